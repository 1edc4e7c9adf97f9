package api

import (
	"bytes"
	"errors"
	"testing"
	"testing/iotest"
)

func TestBodyLeaseReadAll(t *testing.T) {
	const limit = 3*BodyChunkBytes + 7
	tests := []struct {
		name     string
		body     int   // bytes sent
		declared int64 // Content-Length, -1 unknown
		budget   int64
		want     error
		maxCap   int64 // the most the lease may have taken
	}{
		{"ok/declared", 1000, 1000, 1 << 20, nil, 1001},
		{"ok/chunked-grows", 2*BodyChunkBytes + 5, -1, 1 << 20, nil, limit + 1},
		{"ok/exactly-limit", limit, -1, 1 << 20, nil, limit + 1},
		{"ok/empty", 0, 0, 1 << 20, nil, 1},
		{"error/over-limit-chunked", limit + 1, -1, 1 << 20, ErrBodyTooLarge, limit + 1},
		{"error/budget", 2 * BodyChunkBytes, -1, BodyChunkBytes + 100, ErrBusy, BodyChunkBytes + 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newBodyBudget(tc.budget, 4, 2)
			l, err := b.enter("k")
			if err != nil {
				t.Fatal(err)
			}
			src := bytes.Repeat([]byte("x"), tc.body)
			h := min(5, tc.body) // what the caller read first
			got, err := l.readAll(iotest.OneByteReader(bytes.NewReader(src[h:])), src[:h:h], tc.declared, limit)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			if err == nil && !bytes.Equal(got, src) {
				t.Fatalf("read %d bytes, want %d", len(got), len(src))
			}
			if _, _, peak, _ := b.usage(); peak > tc.maxCap || peak > tc.budget {
				t.Fatalf("peak %d bytes, want at most %d (budget %d)", peak, tc.maxCap, tc.budget)
			}
			l.close()
			l.close() // twice is once
			if n, bodies, _, _ := b.usage(); n != 0 || bodies != 0 {
				t.Fatalf("after close: %d bytes, %d bodies", n, bodies)
			}
		})
	}
}

func TestBodyBudgetPlaces(t *testing.T) {
	b := newBodyBudget(1<<20, 3, 2)
	a1, _ := b.enter("a")
	if _, err := b.enter("a"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.enter("a"); !errors.Is(err, ErrBusy) {
		t.Fatalf("third body of key a: %v", err)
	}
	if _, err := b.enter(""); err != nil {
		t.Fatal(err)
	}
	if _, err := b.enter("b"); !errors.Is(err, ErrBusy) {
		t.Fatalf("fourth body: %v", err)
	}
	a1.close()
	if _, err := b.enter("a"); err != nil {
		t.Fatalf("after one of a closed: %v", err)
	}
}
