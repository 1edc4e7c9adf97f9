package runtime

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/agent/internal/config"
	"github.com/tollgate-iot/tollgate/agent/internal/syncer"
	"github.com/tollgate-iot/tollgate/agent/internal/testkit"
	"github.com/tollgate-iot/tollgate/shared/clock"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// TestResumeLostWhileReconnectingIsSynced: a license is suspended; the
// agent's broker goes away; the license is resumed while the agent cannot
// hear the push (QoS 0 to a disconnected client is lost); the broker comes
// back. The agent must sync when its connection comes back and accept
// samples again — with its periodic sync an hour away, only that sync can
// explain the recovery.
func TestResumeLostWhileReconnectingIsSynced(t *testing.T) {
	const licID = "6f1c2a7e-0b3d-4e5f-8a9b-0c1d2e3f4a5b" // testkit.License's
	jsDir := t.TempDir()
	broker := testkit.StartNATS(t, jsDir, 0)

	var mu sync.Mutex
	_, suspended := testkit.Revocation(t, 1, nil, []string{licID}, nil)
	current := suspended // what the license server holds now
	hs := answering(t, func() int64 { return clock.Real{}.Now().Unix() }, func() ([]string, string) {
		mu.Lock()
		defer mu.Unlock()
		return []string{}, current
	})

	cfg := config.Default()
	cfg.Data = filepath.Join(t.TempDir(), "data")
	cfg.Broker, cfg.Server, cfg.Ingest = broker.URL, hs.URL, "127.0.0.1:0"
	id, err := Init(context.Background(), cfg, InitRequest{DeviceID: devID, Model: "TG-100", Trust: testkit.TrustBundle(t)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	a, err := Open(context.Background(), cfg, Options{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Activate([]string{license(t, id.PublicKey, nil), suspended}); err != nil {
		t.Fatal(err)
	}
	// Periodic syncs an hour apart (the first half an hour after start):
	// none falls inside this test. Syncs on connect keep a short gap.
	a.schedule = func() *syncer.Schedule {
		return &syncer.Schedule{Interval: time.Hour, FirstMax: time.Hour, BackoffMin: time.Hour, BackoffMax: time.Hour,
			KickMinGap: 100 * time.Millisecond, Rand: func() float64 { return 0.5 }}
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan Addrs, 1), make(chan error, 1)
	go func() { done <- a.Run(ctx, func(ad Addrs) { ready <- ad }) }()
	var addr string
	select {
	case ad := <-ready:
		addr = ad.Ingest
	case err := <-done:
		t.Fatalf("run: %v", err)
	}
	t.Cleanup(func() { cancel(); <-done; a.Close() })

	syncs := func() int64 {
		c, err := a.syncClient()
		if err != nil {
			t.Fatal(err)
		}
		ok, _ := c.Counts()
		return ok
	}
	eventually := func(what string, cond func() bool) {
		t.Helper()
		wall := clock.Real{}
		// A liveness bound, not a speed target: the reconnect backoff
		// reaches 10 s, and CI runs this beside the whole suite.
		for deadline := wall.Now().Add(60 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
			if wall.Now().After(deadline) {
				t.Fatalf("after 60 s: %s", what)
			}
		}
	}
	reason := func() string {
		r := post(t, addr, `{"data":{"t":1}}`).Results[0]
		if r.Accepted {
			return "accepted"
		}
		return r.Reason
	}
	// The first connect syncs (the list is the same: still suspended).
	eventually("the sync on the first connect", func() bool { return syncs() == 1 })
	if got := reason(); got != wire.ReasonSuspended {
		t.Fatalf("while suspended: %s", got)
	}

	broker.Stop()
	eventually("the agent noticing the broker is gone", func() bool { return !a.current().pub.Connected() })
	// The resume: the server's list no longer suspends the license. Its
	// push goes to a client that is not there.
	_, resumed := testkit.Revocation(t, 2, nil, nil, nil)
	mu.Lock()
	current = resumed
	mu.Unlock()
	if got := reason(); got != wire.ReasonSuspended {
		t.Fatalf("disconnected, before any sync: %s (the resume cannot have reached the agent)", got)
	}

	testkit.StartNATS(t, jsDir, broker.Port())
	eventually("samples accepted after the reconnect", func() bool { return reason() == "accepted" })
	// The sync client counts a sync once its answer is applied, which may
	// be just after the gate sees the new list: wait for the count too.
	eventually("the second sync counted (first connect, reconnect)", func() bool { return syncs() >= 2 })
	if n := syncs(); n != 2 {
		t.Fatalf("%d syncs, want 2 (first connect, reconnect)", n)
	}
	if st := a.Status(); st.Revocation == nil || st.Revocation.Seq != 2 {
		t.Fatalf("revocation list after the reconnect: %+v", st.Revocation)
	}
}
