package ledger

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/store"
)

// noMore is a group commit's top-up when nothing arrived meanwhile.
func noMore([]*syncJob) []*syncJob { return nil }

// wantAnswersAsAfterCommit fails unless every applied job of a batch got
// an answer from its commit equal to the one read after it (syncAnswerOf,
// the fallback path), and no refused job got one.
func wantAnswersAsAfterCommit(t *testing.T, e *env, batch []*syncJob) {
	t.Helper()
	for i, j := range batch {
		if j.err != nil {
			if j.answer != nil {
				t.Errorf("job %d refused (%v) but answered", i, j.err)
			}
			continue
		}
		if j.answer == nil {
			t.Fatalf("job %d: applied but not answered by its commit", i)
		}
		want, err := e.lg.syncAnswerOf(j.deviceID, &j.res, j.r.RevocationSeq)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(j.answer, want) {
			t.Errorf("job %d: the commit answered\n%+v\nread after it:\n%+v", i, j.answer, want)
		}
	}
}

// TestSyncBatchAnswersAsAfterItsCommit: the answers a group commit builds
// in its own transaction — tokens re-issued by the day just charged, acks,
// the revocation list — are those read after it; a refused report gets
// none.
func TestSyncBatchAnswersAsAfterItsCommit(t *testing.T) {
	e := newEnv(t)
	ids, lics := e.syncFleet(3)
	at := e.clk.Now().Add(-3 * time.Hour)
	batch := []*syncJob{job(batchReport(ids[0], lics[0], at, 1, 10)), job(batchReport(ids[1], lics[1], at, 1, 20)),
		job(batchReport(ids[2], lics[0], at, 1, 5))} // another device's license: refused
	e.lg.commitSyncBatch(&batch, noMore)
	wantErr(t, batch[2].err, ErrNotThisDevice)
	for _, j := range batch[:2] {
		if j.err != nil || len(j.answer.Tokens) != 1 || j.answer.RevocationList == "" || j.answer.AckedSeq != 1 {
			t.Fatalf("%s: %+v %v", j.deviceID, j.answer, j.err)
		}
	}
	wantAnswersAsAfterCommit(t, e, batch)
}

// TestSyncBatchAnswersADeviceWithAnOverlongIndex: a device whose
// license index lists more licenses than the batch's one walk reads (more
// than Bind lets a device hold: an index written by hand here) is answered
// by a walk of its own, with the same tokens as read after the commit.
func TestSyncBatchAnswersADeviceWithAnOverlongIndex(t *testing.T) {
	e := newEnv(t)
	ids, lics := e.syncFleet(2)
	err := e.lg.db.Update(func(x *store.Txn) error {
		for i := range answerWalk {
			if err := x.Put(store.LicenseByDeviceKey(ids[0], fmt.Sprintf("0000-stale-%02d", i)), nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	at := e.clk.Now().Add(-3 * time.Hour)
	batch := []*syncJob{job(batchReport(ids[0], lics[0], at, 1, 10)), job(batchReport(ids[1], lics[1], at, 1, 20))}
	e.lg.commitSyncBatch(&batch, noMore)
	if batch[0].err != nil || len(batch[0].answer.Tokens) != 1 {
		t.Fatalf("answer: %+v, %v; want the one token of the bound license", batch[0].answer, batch[0].err)
	}
	wantAnswersAsAfterCommit(t, e, batch)
}

// TestSyncBatchTakesJobsThatArrivedMeanwhile: the jobs that queued while
// the leader waited for the write lock join its commit once (a conflict
// that runs the transaction again does not take more), each applied and
// answered.
func TestSyncBatchTakesJobsThatArrivedMeanwhile(t *testing.T) {
	e := newEnv(t)
	ids, lics := e.syncFleet(3)
	at := e.clk.Now().Add(-3 * time.Hour)
	batch := []*syncJob{job(batchReport(ids[0], lics[0], at, 1, 10))}
	arrived := []*syncJob{job(batchReport(ids[1], lics[1], at, 1, 20)), job(batchReport(ids[2], lics[2], at, 1, 30))}
	calls := 0
	e.lg.commitSyncBatch(&batch, func(b []*syncJob) []*syncJob {
		calls++
		if len(b) != 1 {
			t.Errorf("top-up saw a batch of %d, want 1", len(b))
		}
		return arrived
	})
	if calls != 1 || len(batch) != 3 {
		t.Fatalf("topped up %d times, batch of %d; want once, 3", calls, len(batch))
	}
	for i, j := range batch {
		if j.err != nil || j.res.st.AckedSeq != 1 {
			t.Fatalf("job %d: %+v %v", i, j.res, j.err)
		}
		if got := e.get(lics[i]).AvailableDays; got != 29 {
			t.Fatalf("license %d: %d days, want 29", i, got)
		}
	}
	wantAnswersAsAfterCommit(t, e, batch)
}

// TestSyncQueueTopUpWithinLimits: a top-up takes waiting jobs in order up
// to MaxSyncBatch reports and MaxSyncBatchWeight records, and leaves the
// rest waiting.
func TestSyncQueueTopUpWithinLimits(t *testing.T) {
	var q syncQueue
	for range MaxSyncBatch + 5 {
		q.pending = append(q.pending, &syncJob{weight: 1})
	}
	batch := []*syncJob{{weight: 1}, {weight: 1}}
	if got := q.topUp(batch); len(got) != MaxSyncBatch-2 || len(q.pending) != 7 {
		t.Fatalf("took %d, left %d; want %d, 7", len(got), len(q.pending), MaxSyncBatch-2)
	}
	q.pending = []*syncJob{{weight: MaxSyncBatchWeight - 10}, {weight: 1}}
	if got := q.topUp([]*syncJob{{weight: 11}}); len(got) != 0 || len(q.pending) != 2 {
		t.Fatalf("over the weight: took %d, left %d; want 0, 2", len(got), len(q.pending))
	}
	if got := q.topUp([]*syncJob{{weight: 9}}); len(got) != 2 || q.pending != nil {
		t.Fatalf("at the weight: took %d, left %v; want 2, none", len(got), q.pending)
	}
}

// TestInChunksCoversAllOnce: the chunks of a batched read cover every
// index once, in order, none over the size.
func TestInChunksCoversAllOnce(t *testing.T) {
	for _, c := range []struct{ n, size, calls int }{{0, 4, 0}, {1, 4, 1}, {4, 4, 1}, {5, 4, 2}, {8193, 8192, 2}} {
		next, calls := 0, 0
		err := inChunks(c.n, c.size, func(i, j int) error {
			if i != next || j <= i || j-i > c.size {
				t.Errorf("n=%d size=%d: chunk [%d,%d) after %d", c.n, c.size, i, j, next)
			}
			next, calls = j, calls+1
			return nil
		})
		if err != nil || next != c.n || calls != c.calls {
			t.Errorf("n=%d size=%d: covered [0,%d) in %d calls, want %d", c.n, c.size, next, calls, c.calls)
		}
	}
}
