package api

import (
	"net/url"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/shared/clock"
)

// FuzzTelemetryWindow: no query panics the window parser; a window it
// accepts has both ends set, and within gives a window that ends now.
func FuzzTelemetryWindow(f *testing.F) {
	for _, q := range []string{"", "within=7d", "within=12h", "from=2026-03-01", "from=2026-03-01T10:00:00Z&to=2026-03-02",
		"to=2026-03-02", "within=1d&from=2026-03-01", "from=yesterday", "within=-1h", "from=" + string(make([]byte, 50))} {
		f.Add(q)
	}
	now := time.Date(2026, 3, 14, 10, 30, 0, 0, time.UTC)
	a := &API{clock: clock.NewFake(now)}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		w, err := a.telemetryWindow(q)
		if err != nil {
			return
		}
		if w.From.IsZero() || w.To.IsZero() {
			t.Fatalf("%q: window %+v", raw, w)
		}
		if q.Get("within") != "" && !w.To.Equal(now) {
			t.Fatalf("%q: within ends at %s, not now", raw, w.To)
		}
	})
}
