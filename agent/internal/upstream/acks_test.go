package upstream

import (
	"context"
	"crypto/sha256"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/tollgate-iot/tollgate/agent/internal/limits"
	"github.com/tollgate-iot/tollgate/agent/internal/outbox"
	"github.com/tollgate-iot/tollgate/agent/internal/store"
)

// queued opens a real store and outbox holding n committed entries.
func queued(t *testing.T, n int) (*outbox.Outbox, []outbox.Entry) {
	t.Helper()
	ob, es, _ := queuedIn(t, n)
	return ob, es
}

// queuedIn is queued, also returning the store.
func queuedIn(t *testing.T, n int) (*outbox.Outbox, []outbox.Entry, *store.Store) {
	t.Helper()
	k := sha256.Sum256([]byte("k"))
	st, err := store.Open(context.Background(), store.Options{Dir: t.TempDir(), Key: k[:]})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ob, err := outbox.Open(st, n, false)
	if err != nil {
		t.Fatal(err)
	}
	es := make([]outbox.Entry, n)
	for i := range es {
		if !ob.Reserve() {
			t.Fatal("reserve refused")
		}
		es[i] = outbox.Entry{Topic: "t/d/telemetry", Payload: []byte(`{"n":1}`)}
	}
	if err := st.DB().Update(func(txn *badger.Txn) error { return ob.Append(txn, es) }); err != nil {
		t.Fatal(err)
	}
	return ob, es, st
}

// waitAcked waits (bounded) until the outbox recorded want acks in total.
func waitAcked(t *testing.T, ob *outbox.Outbox, want int64) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		rec := ob.Recorded()
		if ob.Acked() >= want {
			return
		}
		select {
		case <-rec:
		case <-deadline:
			t.Fatalf("acked %d, want %d", ob.Acked(), want)
		}
	}
}

// startDeleter runs a publisher's deleter on ob; stop closes its queue
// and waits for it to record the rest and return.
func startDeleter(t *testing.T, ob *outbox.Outbox, linger time.Duration) (q *pendingAcks, stop func()) {
	t.Helper()
	p := New(Options{Outbox: ob, AckLinger: linger})
	q = &pendingAcks{kick: make(chan struct{}, 1)}
	done := make(chan error, 1)
	go func() { done <- p.deleter(q) }()
	return q, func() {
		t.Helper()
		q.close()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// TestAcksRecordedInBatches: PUBACKs that arrive while more publishes are
// in flight are written one batch per limits.AckRecordBatch; the batch is
// due at once when the window empties, and after limits.AckRecordLinger at
// the latest when it does not.
func TestAcksRecordedInBatches(t *testing.T) {
	t.Run("ok/due-policy", func(t *testing.T) {
		q := &pendingAcks{kick: make(chan struct{}, 1)}
		var spare outbox.Acks
		for i := 0; i < limits.AckRecordBatch-1; i++ {
			q.add(outbox.Entry{Seq: int64(i + 1)}, false)
		}
		if got, waiting, _ := q.take(&spare, false); got.N != 0 || !waiting {
			t.Fatalf("below a batch with the window busy: took %d, waiting %v", got.N, waiting)
		}
		q.add(outbox.Entry{Seq: limits.AckRecordBatch}, false)
		got, waiting, closed := q.take(&spare, false)
		if got.N != limits.AckRecordBatch || got.Top != limits.AckRecordBatch || waiting || closed {
			t.Fatalf("full batch: took %+v, waiting %v, closed %v", got, waiting, closed)
		}
		q.add(outbox.Entry{Seq: limits.AckRecordBatch + 1}, true)
		if got, _, _ := q.take(&spare, false); got.N != 1 {
			t.Fatalf("window empty: took %d, want 1", got.N)
		}
		q.add(outbox.Entry{Seq: limits.AckRecordBatch + 2}, false)
		if got, _, _ := q.take(&spare, true); got.N != 1 {
			t.Fatalf("forced (linger over): took %d, want 1", got.N)
		}
		if got, waiting, _ := q.take(&spare, true); got.N != 0 || waiting {
			t.Fatalf("nothing pending: took %d, waiting %v", got.N, waiting)
		}
	})
	t.Run("ok/deleter-writes-batches", func(t *testing.T) {
		n := 3*limits.AckRecordBatch + 10
		ob, es := queued(t, n)
		// A linger far longer than the test: only full batches are written
		// until the end, where close writes the rest.
		q, stop := startDeleter(t, ob, time.Hour)
		records := 0
		for i, e := range es {
			rec := ob.Recorded()
			before := ob.Acked()
			q.add(e, false) // the window never empties
			if (i+1)%limits.AckRecordBatch == 0 {
				waitAcked(t, ob, int64(i+1))
				records++
				continue
			}
			select {
			case <-rec:
				if ob.Acked() != before {
					t.Fatalf("ack %d recorded alone, before its batch was full", i+1)
				}
			default:
			}
		}
		if ob.Acked() != 3*limits.AckRecordBatch {
			t.Fatalf("acked %d before close, want %d", ob.Acked(), 3*limits.AckRecordBatch)
		}
		stop()
		if ob.Depth() != 0 || records != 3 {
			t.Fatalf("depth %d after every ack, %d full batches", ob.Depth(), records)
		}
	})
	t.Run("ok/linger-writes-a-partial-batch", func(t *testing.T) {
		ob, es := queued(t, 10)
		q, stop := startDeleter(t, ob, time.Millisecond)
		for _, e := range es {
			q.add(e, false) // the window never empties
		}
		waitAcked(t, ob, 10)
		stop()
	})
	t.Run("ok/close-records-the-rest", func(t *testing.T) {
		ob, es := queued(t, 5)
		q, stop := startDeleter(t, ob, time.Hour)
		for _, e := range es {
			q.add(e, false)
		}
		stop()
		if ob.Acked() != 5 {
			t.Fatalf("acked %d after close, want 5", ob.Acked())
		}
	})
}
