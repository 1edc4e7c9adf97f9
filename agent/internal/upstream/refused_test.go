package upstream

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/agent/internal/limits"
	"github.com/tollgate-iot/tollgate/agent/internal/testkit"
	"github.com/tollgate-iot/tollgate/shared/clock"
)

// stepClock is a fake clock that announces every wait, so that the test
// moves time only while the publisher waits.
type stepClock struct {
	*clock.Fake
	waits chan time.Duration
}

func (c stepClock) After(d time.Duration) <-chan time.Time {
	ch := c.Fake.After(d)
	c.waits <- d
	return ch
}

// logRecords is a slog handler that keeps every record.
type logRecords struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *logRecords) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecords) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, r.Clone())
	return nil
}
func (h *logRecords) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *logRecords) WithGroup(string) slog.Handler      { return h }

// warnings returns the WARN (and above) records as "message reason=…".
func (h *logRecords) warnings() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, r := range h.recs {
		if r.Level < slog.LevelWarn {
			continue
		}
		line := r.Message
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "reason" || a.Key == "err" {
				line += " " + a.Key + "=" + a.Value.String()
			}
			return true
		})
		out = append(out, line)
	}
	return out
}

// TestRefusedConnectBacksOff: a real broker refuses the device's CONNECT.
// The publisher backs off exponentially up to 15 min between attempts (not
// 10 s forever): from 30 s when its own state explains the refusal, from
// 100 ms otherwise (a broker starting up refuses briefly). It logs the refusal once at WARN with the reason its
// own state gives when it has one, and reconnects as soon as its state
// changes: the verdict clears, or a new token arrives.
func TestRefusedConnectBacksOff(t *testing.T) {
	tests := []struct {
		name    string
		reason  string // the agent's own verdict while refused
		first   time.Duration
		warning string
		lift    func(reason, password *atomic.Value)
	}{
		{"known-reason", "revoked", limits.ReconnectRefusedMin, "upstream broker refuses this device; backing off reason=revoked",
			func(reason, _ *atomic.Value) { reason.Store("") }},
		{"server-only", "", limits.ReconnectMin, "upstream broker refused this device; backing off err=",
			func(_, password *atomic.Value) { password.Store("token-v2") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			broker := testkit.StartNATS(t, t.TempDir(), 0)
			broker.Refuse("pump-1", true)
			ob, _ := queued(t, 1)
			var reason, password atomic.Value
			reason.Store(tt.reason)
			password.Store("token-v1")
			clk := stepClock{Fake: clock.NewFake(testkit.Epoch), waits: make(chan time.Duration, 1)}
			logs := &logRecords{}
			connected := make(chan struct{}, 1)
			p := New(Options{Broker: broker.URL, ClientID: "pump-1", Username: "pump-1", Outbox: ob,
				Password:  func() string { return password.Load().(string) },
				Refusal:   func() string { return reason.Load().(string) },
				OnConnect: func() { connected <- struct{}{} },
				Clock:     clk, Logger: slog.New(logs)})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); p.Run(ctx) }()
			defer func() {
				cancel()
				for { // unblock a pending announcement, then wait for Run
					select {
					case <-clk.waits:
					case <-done:
						return
					}
				}
			}()

			connectWait := limits.MQTTConnectTimeout + time.Second
			next := func() time.Duration {
				t.Helper()
				select {
				case d := <-clk.waits:
					return d
				case <-time.After(20 * time.Second):
					t.Fatal("the publisher neither connects nor waits")
					return 0
				}
			}
			want := backoffs(tt.first)
			var gaps []time.Duration
			gap, attempts := time.Duration(0), 0
			for len(gaps) < len(want) {
				d := next()
				if d == connectWait {
					if attempts++; attempts > 1 {
						gaps = append(gaps, gap)
					}
					gap = 0
					continue
				}
				gap += d
				clk.Advance(d)
			}
			for i := range want {
				if gaps[i] != want[i] {
					t.Fatalf("waits between refused CONNECTs %v, want %v", gaps, want)
				}
			}
			// The last CONNECT is under way; no other can start before the
			// clock moves again.
			deadline := time.After(10 * time.Second)
		poll:
			for broker.Attempts("pump-1") < len(want)+1 {
				select {
				case <-deadline:
					break poll
				case <-time.After(10 * time.Millisecond):
				}
			}
			if n := broker.Attempts("pump-1"); n != len(want)+1 {
				t.Fatalf("the broker saw %d CONNECTs, want %d", n, len(want)+1)
			}
			w := logs.warnings()
			t.Logf("warnings: %q", w)
			if len(w) != 1 || !strings.HasPrefix(w[0], tt.warning) {
				t.Fatalf("warnings %q, want one starting %q", w, tt.warning)
			}

			broker.Refuse("pump-1", false)
			tt.lift(&reason, &password)
			// Count the rechecks (the waits between CONNECTs), not the
			// CONNECTs: a loaded broker may still turn down one that raced
			// the lift, and the publisher tries again at once.
			for rechecks := 0; ; {
				select {
				case <-connected:
					if rechecks > 1 {
						t.Fatalf("reconnected %d rechecks after the state changed, want at most one", rechecks)
					}
					return
				case d := <-clk.waits:
					if d != connectWait {
						if d > limits.RefusalRecheck {
							t.Fatalf("waiting %v after a refusal, want steps of at most %v", d, limits.RefusalRecheck)
						}
						rechecks++
						clk.Advance(d)
					}
				case <-time.After(20 * time.Second):
					t.Fatal("no reconnect after the refusal was lifted")
				}
			}
		})
	}
}

// backoffs is the exponential schedule from first up to
// limits.ReconnectRefusedMax, and one more wait at the cap.
func backoffs(first time.Duration) []time.Duration {
	var out []time.Duration
	for d := first; ; d = min(2*d, limits.ReconnectRefusedMax) {
		out = append(out, d)
		if d == limits.ReconnectRefusedMax {
			return append(out, d)
		}
	}
}

// TestStateChangeDuringARefusedConnect: the agent's verdict clears while
// the CONNECT it refused is still under way (a sync landed in between).
// The publisher compares its state with the one the refused CONNECT was
// made with, so it connects again at once; it used to take the changed
// state as the one refused and wait out the whole backoff (15 min).
func TestStateChangeDuringARefusedConnect(t *testing.T) {
	broker := testkit.StartNATS(t, t.TempDir(), 0)
	broker.Refuse("pump-1", true)
	ob, _ := queued(t, 1)
	var reason atomic.Value
	reason.Store("revoked")
	var lifted atomic.Bool
	clk := stepClock{Fake: clock.NewFake(testkit.Epoch), waits: make(chan time.Duration, 1)}
	connected := make(chan struct{}, 1)
	p := New(Options{Broker: broker.URL, ClientID: "pump-1", Username: "pump-1", Outbox: ob,
		Password: func() string { return "token-v1" },
		Refusal:  func() string { return reason.Load().(string) },
		// Told after the CONNECT ended and before the publisher looks
		// at its own state: the window the change lands in.
		ConnectDone: func(err error, _ time.Duration) {
			if err != nil && lifted.CompareAndSwap(false, true) {
				broker.Refuse("pump-1", false)
				reason.Store("")
			}
		},
		OnConnect: func() { connected <- struct{}{} },
		Clock:     clk, Logger: slog.New(&logRecords{})})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); p.Run(ctx) }()
	defer func() {
		cancel()
		for {
			select {
			case <-clk.waits:
			case <-done:
				return
			}
		}
	}()
	connectWait := limits.MQTTConnectTimeout + time.Second
	for {
		select {
		case <-connected:
			if n := broker.Attempts("pump-1"); n != 2 {
				t.Fatalf("connected after %d CONNECTs, want 2 (the refused one, then at once the next)", n)
			}
			return
		case d := <-clk.waits:
			if d != connectWait {
				t.Fatalf("waited %v after a refusal whose reason had already cleared, want no wait", d)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("no reconnect after the refusal was lifted")
		}
	}
}
