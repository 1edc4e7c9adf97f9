package broker

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/shared/clock"
)

// recordingHandler keeps every record for the test to read.
type recordingHandler struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *recordingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, r.Clone())
	return nil
}
func (h *recordingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordingHandler) WithGroup(string) slog.Handler      { return h }

// lines returns "LEVEL msg username=U suppressed=N" for every record at
// INFO or above.
func (h *recordingHandler) lines() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, r := range h.recs {
		if r.Level < slog.LevelInfo {
			continue
		}
		line := r.Level.String() + " " + r.Message
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "username" || a.Key == "suppressed" {
				line += fmt.Sprintf(" %s=%v", a.Key, a.Value)
			}
			return true
		})
		out = append(out, line)
	}
	return out
}

// debugCount counts the debug records with msg.
func (h *recordingHandler) debugCount(msg string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, r := range h.recs {
		if r.Level == slog.LevelDebug && r.Message == msg {
			n++
		}
	}
	return n
}

// TestRefusedConnectLoggedOncePerInterval: a cut-off device reconnecting
// over and over is one INFO line per RefusedConnectLogInterval on the real
// embedded broker, with no ERROR lines; the next INFO line counts the
// refusals in between; another device gets its own line.
func TestRefusedConnectLoggedOncePerInterval(t *testing.T) {
	h := &recordingHandler{}
	clk := clock.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	b, err := Start(Config{StoreDir: t.TempDir(), Auth: fakeAuth{}, Logger: slog.New(h), Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	startLines := len(h.lines())
	refuse := func(user string) {
		t.Helper()
		if _, err := connect(t, b, user, "wrong"); err == nil {
			t.Fatalf("%s connected with a wrong password", user)
		}
	}
	for range 3 {
		refuse("dev:pump1")
	}
	refuse("dev:pump2")
	// The broker logs the refusal before answering CONNACK; the debug
	// count is the barrier that all three pump1 refusals were handled.
	if n := h.debugCount("mqtt connect refused"); n != 2 {
		t.Fatalf("%d refusals at debug, want 2", n)
	}
	clk.Advance(RefusedConnectLogInterval)
	refuse("dev:pump1")

	got := h.lines()[startLines:]
	want := []string{
		"INFO mqtt connect refused username=dev:pump1 suppressed=0",
		"INFO mqtt connect refused username=dev:pump2 suppressed=0",
		"INFO mqtt connect refused username=dev:pump1 suppressed=2",
	}
	var refusals []string
	for _, l := range got {
		if strings.HasPrefix(l, "ERROR") || strings.HasPrefix(l, "WARN") {
			t.Errorf("refused CONNECT logged %q", l)
		}
		if strings.Contains(l, "mqtt connect refused") {
			refusals = append(refusals, l)
		}
	}
	if strings.Join(refusals, "\n") != strings.Join(want, "\n") {
		t.Fatalf("INFO refusals:\n%s\nwant:\n%s\n(all lines: %q)", strings.Join(refusals, "\n"), strings.Join(want, "\n"), got)
	}
}

// TestRefusalLogIsBounded: past its cap the log forgets clients not seen
// for an interval, and logs new ones at debug while all are recent.
func TestRefusalLogIsBounded(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	r := newRefusalLog(clk)
	r.maxKeys = 3
	for i := range 3 {
		if ok, _ := r.allow(fmt.Sprint("d", i)); !ok {
			t.Fatalf("d%d not logged", i)
		}
	}
	if ok, _ := r.allow("d3"); ok || len(r.last) != 3 {
		t.Fatalf("a fourth client was remembered past the cap (%d held)", len(r.last))
	}
	clk.Advance(RefusedConnectLogInterval)
	if ok, _ := r.allow("d3"); !ok || len(r.last) != 1 {
		t.Fatalf("stale clients not forgotten: %d held", len(r.last))
	}
}
