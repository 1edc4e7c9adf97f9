package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"

	"github.com/tollgate-iot/tollgate/shared/token"
)

// ErrBusy reports a request whose body would take the server past
// MaxBodyBytesInFlight or MaxBodiesInFlight: it is answered 503 with
// Retry-After, and the client sends it again later.
var ErrBusy = errors.New("server busy: too many request bodies in flight")

// bodyBudget bounds the memory that request bodies read before they are
// handled may hold, all requests together: a count of bodies and a count
// of bytes, each taken before the memory is allocated and given back when
// the request ends. Nothing is pooled: a body's buffer is garbage once its
// request is answered, so the heap never keeps more than the peak the
// budget allows.
type bodyBudget struct {
	maxBytes, maxBodies, maxPerKey int64

	mu                    sync.Mutex
	bytes, bodies         int64
	peakBytes, peakBodies int64
	perKey                map[string]int64 // bodies in flight by signing key id
}

func newBodyBudget(maxBytes, maxBodies, maxPerKey int64) *bodyBudget {
	return &bodyBudget{maxBytes: maxBytes, maxBodies: maxBodies, maxPerKey: maxPerKey, perKey: map[string]int64{}}
}

// enter admits one more body, signed by key id key ("" when the body names
// none), or refuses with ErrBusy. The lease it returns must be closed when
// the request ends.
func (b *bodyBudget) enter(key string) (*bodyLease, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.bodies >= b.maxBodies {
		return nil, fmt.Errorf("%w: %d bodies are being read (at most %d); retry after %d s", ErrBusy, b.bodies, b.maxBodies, BusyRetryAfter)
	}
	if key != "" && b.perKey[key] >= b.maxPerKey {
		return nil, fmt.Errorf("%w: %d bodies signed by key %s are being read (at most %d per key); retry after %d s",
			ErrBusy, b.perKey[key], key, b.maxPerKey, BusyRetryAfter)
	}
	b.bodies++
	b.peakBodies = max(b.peakBodies, b.bodies)
	if key != "" {
		b.perKey[key]++
	}
	return &bodyLease{b: b, key: key}, nil
}

// take reserves n more bytes, or refuses with ErrBusy.
func (b *bodyBudget) take(n int64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.bytes+n > b.maxBytes {
		return fmt.Errorf("%w: %d of %d bytes of request bodies are in use; retry after %d s", ErrBusy, b.bytes, b.maxBytes, BusyRetryAfter)
	}
	b.bytes += n
	b.peakBytes = max(b.peakBytes, b.bytes)
	return nil
}

func (b *bodyBudget) leave(key string, n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.bytes -= n
	b.bodies--
	if key != "" {
		if b.perKey[key]--; b.perKey[key] <= 0 {
			delete(b.perKey, key)
		}
	}
}

// usage returns the bytes and bodies in flight now and their highest
// values since the server started (tests and metrics read them).
func (b *bodyBudget) usage() (bytes, bodies, peakBytes, peakBodies int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.bytes, b.bodies, b.peakBytes, b.peakBodies
}

// bodyLease is one request's share of the budget: one body and the bytes
// its buffer holds.
type bodyLease struct {
	b     *bodyBudget
	key   string
	bytes int64
	done  bool
}

// close gives the lease's body and bytes back; the caller drops its buffer.
func (l *bodyLease) close() {
	if l == nil || l.done {
		return
	}
	l.done = true
	l.b.leave(l.key, l.bytes)
}

// grow makes room for n more bytes in buf (which holds what was read so
// far), taking the bytes of a larger buffer from the budget first. The
// buffer grows by doubling, from BodyChunkBytes, never past limit.
func (l *bodyLease) grow(buf []byte, n, limit int) ([]byte, error) {
	if len(buf)+n <= cap(buf) {
		return buf, nil
	}
	size := max(2*cap(buf), BodyChunkBytes, len(buf)+n)
	size = min(size, limit)
	if err := l.b.take(int64(size - cap(buf))); err != nil {
		return nil, err
	}
	l.bytes += int64(size - cap(buf))
	grown := make([]byte, len(buf), size)
	copy(grown, buf)
	return grown, nil
}

// readAll reads r to its end into a buffer counted against the lease,
// after head (what the caller already read). A body over limit bytes is
// ErrBodyTooLarge, one that would take the budget past its bounds ErrBusy.
// declared is the request's Content-Length (-1 unknown): the buffer never
// grows past it, and grows only as bytes arrive.
func (l *bodyLease) readAll(r io.Reader, head []byte, declared int64, limit int) ([]byte, error) {
	// One byte past the end tells a body too large (or longer than it
	// said) from one that fills its size exactly.
	ceiling := limit + 1
	if declared >= 0 && declared < int64(limit) {
		ceiling = int(declared) + 1
	}
	buf, err := l.grow(nil, min(len(head)+BodyChunkBytes, ceiling), ceiling)
	if err != nil {
		return nil, err
	}
	buf = append(buf, head...)
	for len(buf) < ceiling {
		if len(buf) == cap(buf) {
			if buf, err = l.grow(buf, 1, ceiling); err != nil {
				return nil, err
			}
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return nil, readErr(err)
		}
	}
	if ceiling > limit {
		return nil, fmt.Errorf("%w: at most %d bytes", ErrBodyTooLarge, limit)
	}
	return nil, fmt.Errorf("%w: body longer than its Content-Length %d", token.ErrMalformed, declared)
}

// readErr names what went wrong reading a body.
func readErr(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return fmt.Errorf("%w: at most %d bytes", ErrBodyTooLarge, mbe.Limit)
	}
	return fmt.Errorf("%w: reading body: %v", token.ErrMalformed, err)
}

// setRetryAfter adds Retry-After to a 503 for a full budget.
func setRetryAfter(w http.ResponseWriter, err error) {
	if errors.Is(err, ErrBusy) {
		w.Header().Set("Retry-After", strconv.Itoa(BusyRetryAfter))
	}
}
