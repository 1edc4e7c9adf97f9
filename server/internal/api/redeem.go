package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/shared/redeem"
)

// Errors of online activation found before the ledger.
var (
	// ErrRateLimited reports a source address over RedeemRate requests
	// per RedeemRatePeriod.
	ErrRateLimited = errors.New("too many activation requests from this address")
	// ErrTooManyFailures reports a source address that failed
	// MaxRedeemFailures times within RedeemFailureWindow, or serial
	// redemption paused after MaxSerialFailures failures from all
	// addresses in that window (enrollment codes keep working).
	ErrTooManyFailures = errors.New("too many failed activations")
)

// Bounds of online activation (docs/server.md "Online activation").
// Serials are 8 Crockford base32 characters (40 bits); these limits keep
// guessing them far from worthwhile: one address gets at most
// MaxRedeemFailures wrong answers an hour, and all addresses together at
// most MaxSerialFailures wrong serials an hour — about 24k guesses a day
// against 2^40 serials. Enrollment codes carry 256 random bits. The
// failures are counted in the ledger's store (ledger/redeemguard.go), so a
// restart does not reset them; only the per-minute rate is in memory.
const (
	// RedeemWindow is how far a request's created_at may be from the
	// server's time, either way; its nonce is remembered that long.
	RedeemWindow = SyncWindow
	// RedeemRate requests per RedeemRatePeriod are accepted from one
	// source address (an IPv6 address counts by its /64).
	RedeemRate       = 10
	RedeemRatePeriod = time.Minute
	// MaxRedeemFailures refusals of one source within a
	// RedeemFailureWindow lock that source out until the window ends.
	MaxRedeemFailures   = 10
	RedeemFailureWindow = ledger.RedeemFailureWindow
	// MaxSerialFailures refused serial redemptions from all sources within
	// a RedeemFailureWindow pause serial redemption until the window ends.
	MaxSerialFailures = 1000
	// MaxRedeemSources caps the source addresses whose rate is tracked in
	// memory, and whose failures the store tracks per window; when full,
	// the expired rates are dropped, then arbitrary ones.
	MaxRedeemSources = ledger.MaxRedeemSources
	// MaxRedeemBodyBytes caps the request body: a signed request and a
	// line ending.
	MaxRedeemBodyBytes = redeem.MaxRequestBytes + 2
)

// redeemGuard is online activation's guard: request rates by source, in
// this process's memory, and the failures, in the ledger's store. The rate
// sheds load before anything touches the store (a flood costs no write);
// a restart forgets it, and N replicas behind a load balancer allow up to
// N times it. What stops guessing — the failure lockout and the serial
// pause — is in the store, shared by every replica, and so are the
// request nonces (ledger.RedeemOnline).
type redeemGuard struct {
	lg      *ledger.Ledger
	mu      sync.Mutex
	sources map[string]*sourceState
}

type sourceState struct {
	rateFrom time.Time
	rateN    int
}

func newRedeemGuard(lg *ledger.Ledger) *redeemGuard {
	return &redeemGuard{lg: lg, sources: map[string]*sourceState{}}
}

// throttled is a refusal with the time after which trying again may work.
type throttled struct {
	err   error
	until time.Time
}

func (t *throttled) Error() string { return t.err.Error() }
func (t *throttled) Unwrap() error { return t.err }

// admit counts a request of src and refuses it if src is over its rate or
// locked out by its failures. It returns the failures counted so far, for
// serialPaused.
func (g *redeemGuard) admit(ctx context.Context, src string, now time.Time) (ledger.RedeemFailures, error) {
	if err := g.rate(src, now); err != nil {
		return ledger.RedeemFailures{}, err
	}
	f, err := g.lg.RedeemFailuresOf(ctx, src)
	if err != nil {
		return f, err
	}
	if f.Source >= MaxRedeemFailures {
		return f, &throttled{fmt.Errorf("%w: %d failures from this address within the hour; retry after %s", ErrTooManyFailures,
			f.Source, f.End.Format(time.RFC3339)), f.End}
	}
	return f, nil
}

// rate counts a request of src against RedeemRate.
func (g *redeemGuard) rate(src string, now time.Time) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	s := g.source(src, now)
	if !now.Before(s.rateFrom.Add(RedeemRatePeriod)) {
		s.rateFrom, s.rateN = now, 0
	}
	s.rateN++
	if s.rateN > RedeemRate {
		return &throttled{fmt.Errorf("%w: at most %d per %s", ErrRateLimited, RedeemRate, RedeemRatePeriod), s.rateFrom.Add(RedeemRatePeriod)}
	}
	return nil
}

// serialPaused refuses serial redemption after MaxSerialFailures.
func serialPaused(f ledger.RedeemFailures) error {
	if f.Serial >= MaxSerialFailures {
		return &throttled{fmt.Errorf("%w: serial redemption is paused after %d failures within the hour, until %s; enrollment codes still work",
			ErrTooManyFailures, f.Serial, f.End.Format(time.RFC3339)), f.End}
	}
	return nil
}

// failed counts a refused redemption of src (serial: of a serial). A
// failure to count is logged: the refusal stands either way.
func (g *redeemGuard) failed(ctx context.Context, log *slog.Logger, src string, serial bool) {
	if err := g.lg.RecordRedeemFailure(ctx, src, serial); err != nil {
		log.Error("counting a failed online activation", "source", src, "error", err)
	}
}

// source returns src's state, making room when MaxRedeemSources are tracked.
func (g *redeemGuard) source(src string, now time.Time) *sourceState {
	if s, ok := g.sources[src]; ok {
		return s
	}
	if len(g.sources) >= MaxRedeemSources {
		for k, s := range g.sources {
			if !now.Before(s.rateFrom.Add(RedeemRatePeriod)) {
				delete(g.sources, k)
			}
		}
		for k := range g.sources {
			if len(g.sources) < MaxRedeemSources {
				break
			}
			delete(g.sources, k)
		}
	}
	s := &sourceState{}
	g.sources[src] = s
	return s
}

// sourceOf is the address a request is counted under: the peer's IP (an
// IPv6 one by its /64, which one subscriber usually holds whole). A proxy
// in front of the server makes every request its own: limits are then the
// proxy's to apply.
func sourceOf(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

// redeemOnline is POST /v1/activations/online: a device-signed request
// redeeming a license serial or an enrollment code; the answer is the
// signed sync response (tokens, revocation list, server time) echoing the
// request's nonce. No API key: the signature and the code are the
// authentication, bounded by the guard's limits.
func (a *API) redeemOnline(w http.ResponseWriter, r *http.Request) {
	src, now := sourceOf(r), a.clock.Now()
	// The server's time, for a device whose clock is too far off to date
	// its request (stale_request): it asks again at this time.
	w.Header().Set("Date", now.UTC().Format(http.TimeFormat))
	f, err := a.redeem.admit(r.Context(), src, now)
	if err != nil {
		a.redeemRefused(w, r, err, "")
		return
	}
	answer, method, err := a.redeemText(w, r, src, now, f)
	if err != nil {
		// The server's own failure is no guess, nor is a refusal for
		// load or for too many failures already counted.
		if status, _ := Status(err); status < 500 && status != http.StatusTooManyRequests {
			a.redeem.failed(r.Context(), a.log, src, method == ledger.RedeemSerial)
		}
		a.redeemRefused(w, r, err, method)
		return
	}
	a.m.Add("tollgate_redemptions_total", 1, method, "ok")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if _, err := io.WriteString(w, answer); err != nil {
		a.log.Debug("redeem answer write", "error", err)
	}
}

// redeemText reads, verifies, checks freshness and redeems; it returns the
// signed answer and the method (serial or enrollment, "" before it is known).
func (a *API) redeemText(w http.ResponseWriter, r *http.Request, src string, now time.Time, f ledger.RedeemFailures) (string, string, error) {
	lease, b, err := a.readFile(w, r, MaxRedeemBodyBytes)
	defer lease.close()
	if err != nil {
		return "", "", err
	}
	text := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	req, err := redeem.Parse(text)
	if err != nil {
		return "", "", err
	}
	method := ledger.RedeemSerial
	if req.IsEnrollment() {
		method = ledger.RedeemEnrollment
	}
	created := time.Unix(req.CreatedAt, 0)
	if d := now.Sub(created); d > RedeemWindow || d < -RedeemWindow {
		return "", method, &sameAs{ErrStale, fmt.Sprintf("stale activation request: created_at %s is %s from server time (window ±%s)",
			created.UTC().Format(time.RFC3339), d.Round(time.Second), RedeemWindow)}
	}
	if method == ledger.RedeemSerial {
		if err := serialPaused(f); err != nil {
			return "", method, err
		}
	}
	res, err := a.lg.RedeemOnline(r.Context(), req.Activation(), req.Code, src, req.Nonce, created.Add(RedeemWindow))
	if errors.Is(err, ledger.ErrReplay) {
		return "", method, &sameAs{ErrReplay, "replayed activation request: nonce already seen from device " + req.DeviceID}
	}
	if err != nil {
		return "", method, err
	}
	res.Response.Nonce = req.Nonce
	license := ""
	if res.License != nil {
		license = res.License.ID
	}
	a.log.Info("online activation", "method", method, "device_id", res.Device.ID, "customer_id", res.Device.CustomerID,
		"license_id", license, "enrollment_id", res.EnrollmentID, "device_created", res.DeviceCreated, "retry", res.Retry, "source", src)
	answer, err := a.lg.SignSyncResponse(res.Response)
	return answer, method, err
}

// sameAs is a refusal of online activation that answers like a sync's
// (stale_request, replay) with its own message.
type sameAs struct {
	target error
	msg    string
}

func (e *sameAs) Error() string        { return e.msg }
func (e *sameAs) Is(target error) bool { return target == e.target }

// redeemRefused answers a refusal, with Retry-After when throttled, and
// counts it.
func (a *API) redeemRefused(w http.ResponseWriter, r *http.Request, err error, method string) {
	var t *throttled
	if errors.As(err, &t) {
		w.Header().Set("Retry-After", strconv.FormatInt(int64(t.until.Sub(a.clock.Now())/time.Second)+1, 10))
	}
	status, code := Status(err)
	if method == "" {
		method = "unknown"
	}
	a.m.Add("tollgate_redemptions_total", 1, method, code)
	switch {
	case status == http.StatusTooManyRequests: // counted; one line per throttled request would let a flood fill the log
		a.log.Debug("online activation throttled", "code", code, "source", sourceOf(r))
	case status < 500:
		a.log.Warn("online activation refused", "method", method, "code", code, "source", sourceOf(r), "error", err)
	}
	a.fail(w, r, err)
}

// initRedeem sets up online activation's guard and metrics.
func (a *API) initRedeem() {
	a.redeem = newRedeemGuard(a.lg)
	a.m.Counter("tollgate_redemptions_total", "Online activations by method (serial, enrollment, unknown) and result (ok or error code).", "method", "result")
}
