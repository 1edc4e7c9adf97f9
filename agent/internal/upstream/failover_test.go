package upstream

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/tollgate-iot/tollgate/agent/internal/outbox"
	"github.com/tollgate-iot/tollgate/agent/internal/store"
	"github.com/tollgate-iot/tollgate/agent/internal/testkit"
)

// runPublisher runs p until the test ends.
func runPublisher(t *testing.T, p *Publisher) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); p.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// TestPublisherFailsOverToTheNextBroker: the first broker of the list
// cannot be reached; the queued samples go through the second, every one
// acknowledged.
func TestPublisherFailsOverToTheNextBroker(t *testing.T) {
	down := fmt.Sprintf("tcp://127.0.0.1:%d", testkit.FreePort(t))
	up := testkit.StartNATS(t, t.TempDir(), 0)
	ob, es := queued(t, 20)
	p := New(Options{Broker: down + "," + up.URL, ClientID: "pump-1", Username: "pump-1", Outbox: ob, Logger: slog.New(slog.DiscardHandler)})
	runPublisher(t, p)
	waitAcked(t, ob, int64(len(es)))
	if p.Broker() != up.URL || p.Failovers() < 1 {
		t.Fatalf("publishing through %s after %d failovers, want %s", p.Broker(), p.Failovers(), up.URL)
	}
}

// TestPublisherMovesOnWhenItsBrokerDies: connected to the first broker,
// the publisher loses it and carries on through the second; what was
// queued before and after is all acknowledged.
func TestPublisherMovesOnWhenItsBrokerDies(t *testing.T) {
	a := testkit.StartNATS(t, t.TempDir(), 0)
	b := testkit.StartNATS(t, t.TempDir(), 0)
	ob, es, st := queuedIn(t, 10)
	p := New(Options{Broker: a.URL + "," + b.URL, ClientID: "pump-1", Username: "pump-1", Outbox: ob, Logger: slog.New(slog.DiscardHandler)})
	runPublisher(t, p)
	waitAcked(t, ob, int64(len(es)))
	if p.Broker() != a.URL {
		t.Fatalf("first session on %s, want %s", p.Broker(), a.URL)
	}
	a.Stop()
	more := appendQueued(t, st, ob, 10)
	waitAcked(t, ob, int64(len(es)+more))
	if p.Broker() != b.URL {
		t.Fatalf("after the first broker died, publishing through %s, want %s", p.Broker(), b.URL)
	}
}

// TestReconnectDelaysAreSpread: the backoff before the next round is
// jittered over [d/2, d], so the devices of a broker that died do not come
// back in step. It fails with no jitter (every delay d).
func TestReconnectDelaysAreSpread(t *testing.T) {
	const d = 8 * time.Second
	lo, hi := d, time.Duration(0)
	for range 1000 {
		j := jitter(d)
		if j < d/2 || j > d {
			t.Fatalf("jitter(%v) = %v, outside [d/2, d]", d, j)
		}
		lo, hi = min(lo, j), max(hi, j)
	}
	if hi-lo < d/4 {
		t.Fatalf("1,000 delays between %v and %v: not spread", lo, hi)
	}
	if p := failoverPause(); p < 0 || p > 500*time.Millisecond {
		t.Fatalf("failover pause %v", p)
	}
}

// appendQueued queues n more samples in ob and returns n.
func appendQueued(t *testing.T, st *store.Store, ob *outbox.Outbox, n int) int {
	t.Helper()
	es := make([]outbox.Entry, n)
	for i := range es {
		if !ob.Reserve() {
			t.Fatal("reserve refused")
		}
		es[i] = outbox.Entry{Topic: "t/d/telemetry", Payload: []byte(`{"n":2}`)}
	}
	if err := st.DB().Update(func(txn *badger.Txn) error { return ob.Append(txn, es) }); err != nil {
		t.Fatal(err)
	}
	return n
}
