package ledger

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
)

// syncFleet makes n devices of acme, each with a bound day license of 30
// days, and returns their ids and licenses.
func (e *env) syncFleet(n int) (ids, lics []string) {
	e.t.Helper()
	dist, acme, _, _ := e.tree()
	for i := range n {
		id := fmt.Sprintf("gc-%02d", i)
		e.device(acme, "acme", id, "sensor-a")
		l := e.create(dist, days("acme", 30))
		e.bind(acme, l.ID, id)
		ids, lics = append(ids, id), append(lics, l.ID)
	}
	return ids, lics
}

func batchReport(dev, lic string, at time.Time, seq int64, accepted int64) *syncproto.Report {
	return &syncproto.Report{DeviceID: dev, Nonce: "AAAAAAAAAAAAAAAAAAAAAA", SentAt: at.Unix(), Tokens: []syncproto.TokenVersion{},
		Deductions: []syncproto.Deduction{{Seq: seq, LicenseID: lic, At: at.Unix(), PaidUntil: at.Add(Day).Unix(), DaysBefore: 31 - seq, DaysAfter: 30 - seq}},
		Counts:     []syncproto.HourlyCount{{DeviceID: dev, Hour: at.Truncate(time.Hour).Unix(), Accepted: accepted}}}
}

func job(r *syncproto.Report) *syncJob {
	return &syncJob{deviceID: r.DeviceID, r: r, weight: reportWeight(r), done: make(chan bool, 1)}
}

// TestSyncGroupCommitRefusedReportLeavesOthers: in one group commit, a
// report refused by the ledger (counter_went_down, another device's
// license) applies nothing of itself and the others are applied whole,
// including two reports of one device and the same report twice.
func TestSyncGroupCommitRefusedReportLeavesOthers(t *testing.T) {
	e := newEnv(t)
	ids, lics := e.syncFleet(4)
	at := e.clk.Now().Add(-3 * time.Hour)
	if _, err := e.lg.Reconcile(ctx, ids[1], batchReport(ids[1], lics[1], at, 1, 50)); err != nil {
		t.Fatal(err)
	}
	ok0 := batchReport(ids[0], lics[0], at, 1, 10)
	down := batchReport(ids[1], lics[1], at, 2, 40) // 40 < 50 held: refused, seq 2 not charged
	stolen := batchReport(ids[2], lics[3], at, 1, 5)
	ok3a := batchReport(ids[3], lics[3], at, 1, 7)
	ok3b := batchReport(ids[3], lics[3], at.Add(time.Hour), 2, 9)
	again := batchReport(ids[0], lics[0], at, 1, 10)
	batch := []*syncJob{job(ok0), job(down), job(stolen), job(ok3a), job(ok3b), job(again)}
	e.lg.commitSyncBatch(&batch, noMore)

	wantErr(t, batch[1].err, ErrCounterWentDown)
	wantErr(t, batch[2].err, ErrNotThisDevice)
	for _, i := range []int{0, 3, 4, 5} {
		if batch[i].err != nil {
			t.Fatalf("report %d: %v", i, batch[i].err)
		}
	}
	if batch[0].res.st.AckedSeq != 1 || batch[5].res.st.AckedSeq != 1 || batch[4].res.st.AckedSeq != 2 || len(batch[4].res.missing) != 0 {
		t.Fatalf("acks: %+v %+v %+v", batch[0].res, batch[4].res, batch[5].res)
	}
	for i, want := range []int64{29, 29, 30, 28} { // ids[1] was charged once before the batch
		if got := e.get(lics[i]).AvailableDays; got != want {
			t.Fatalf("license %d: %d days, want %d", i, got, want)
		}
	}
	st, err := e.lg.DeviceSyncStatus(ctx, SystemActor(), ids[1])
	if err != nil || st.HighestSeq != 1 || st.Hourly[0].Accepted != 50 {
		t.Fatalf("refused report applied something: %+v %v", st, err)
	}
	st, err = e.lg.DeviceSyncStatus(ctx, SystemActor(), ids[2])
	if err != nil || st.Syncs != 0 || len(st.Hourly) != 0 {
		t.Fatalf("refused report applied something: %+v %v", st, err)
	}
}

// TestSyncGroupCommitFallsBackOneByOne: a batch whose transaction fails
// (too big for the small profile) is applied one report per transaction,
// each with its own outcome, and nothing is charged twice.
func TestSyncGroupCommitFallsBackOneByOne(t *testing.T) {
	e := newEnv(t)
	ids, lics := e.syncFleet(2)
	at := e.clk.Now().Add(-3 * time.Hour)
	big := batchReport(ids[0], lics[0], at, 1, 1)
	for h := range 7 * 24 * 50 { // more counts than one small-profile transaction holds with the rest
		big.Counts = append(big.Counts, syncproto.HourlyCount{DeviceID: ids[0], Hour: at.Truncate(time.Hour).Add(time.Duration(h+1) * time.Hour).Unix(), Accepted: int64(h)})
	}
	var batch []*syncJob
	for range 4 {
		r := *big
		batch = append(batch, job(&r))
	}
	batch = append(batch, job(batchReport(ids[1], lics[1], at, 1, 3)))
	e.lg.commitSyncBatch(&batch, noMore)
	for i, j := range batch {
		if j.err != nil || j.res.st.AckedSeq != 1 {
			t.Fatalf("report %d: %+v %v", i, j.res, j.err)
		}
	}
	if a, b := e.get(lics[0]).AvailableDays, e.get(lics[1]).AvailableDays; a != 29 || b != 29 {
		t.Fatalf("days %d %d, want 29 29", a, b)
	}
}

// TestSyncGroupCommitConcurrentExactTotals: many devices reconciling at
// once through the queue (reports of one device in order, as the agent
// sends them) end with exact totals.
func TestSyncGroupCommitConcurrentExactTotals(t *testing.T) {
	e := newEnv(t)
	const devices, syncs = 8, 5
	ids, lics := e.syncFleet(devices)
	at := e.clk.Now().Add(-3 * time.Hour)
	var wg sync.WaitGroup
	errs := make(chan error, devices)
	for i := range devices {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s := range int64(syncs) {
				r := batchReport(ids[i], lics[i], at.Add(time.Duration(s)*time.Hour), s+1, 10+s)
				resp, err := e.lg.Reconcile(ctx, ids[i], r)
				if err == nil && resp.AckedSeq != s+1 {
					err = fmt.Errorf("device %s sync %d: acked %d", ids[i], s, resp.AckedSeq)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := errors.Join(func() (out []error) {
		for err := range errs {
			out = append(out, err)
		}
		return out
	}()...); err != nil {
		t.Fatal(err)
	}
	for i := range devices {
		if got := e.get(lics[i]).AvailableDays; got != 30-syncs {
			t.Fatalf("license %d: %d days, want %d", i, got, 30-syncs)
		}
	}
}

// TestSyncCountsBoundFromOlderState: a device whose sync state predates
// CountsThrough gets its bound from the counts held, so a lower count of
// a held hour is still refused and later hours are taken.
func TestSyncCountsBoundFromOlderState(t *testing.T) {
	e := newEnv(t)
	ids, lics := e.syncFleet(1)
	at := e.clk.Now().Add(-5 * time.Hour)
	late := batchReport(ids[0], lics[0], at.Add(3*time.Hour), 1, 50)
	if _, err := e.lg.Reconcile(ctx, ids[0], late); err != nil {
		t.Fatal(err)
	}
	err := e.lg.db.Update(func(x *store.Txn) error { // forget the bound, as a state written before it
		var st SyncState
		if err := x.GetJSON(store.SyncStateKey(ids[0]), &st); err != nil {
			return err
		}
		if st.CountsThrough != at.Add(3*time.Hour).Truncate(time.Hour).Unix() {
			return fmt.Errorf("counts_through %d", st.CountsThrough)
		}
		st.CountsThrough = 0
		return x.PutJSON(store.SyncStateKey(ids[0]), &st)
	})
	if err != nil {
		t.Fatal(err)
	}
	early := batchReport(ids[0], lics[0], at, 2, 7) // an earlier hour, held by no one: taken
	if _, err := e.lg.Reconcile(ctx, ids[0], early); err != nil {
		t.Fatal(err)
	}
	lower := batchReport(ids[0], lics[0], at.Add(3*time.Hour), 3, 49) // below the held 50
	_, err = e.lg.Reconcile(ctx, ids[0], lower)
	wantErr(t, err, ErrCounterWentDown)
	st, err := e.lg.DeviceSyncStatus(ctx, SystemActor(), ids[0])
	if err != nil || len(st.Hourly) != 2 || st.Hourly[1].Accepted != 50 || st.HighestSeq != 2 {
		t.Fatalf("status %+v %v", st, err)
	}
}

// TestSyncGroupCommitPanicAnswersTheBatch: a panic while committing (a
// bug) reaches its own caller, answers the others of the batch with an
// error and leaves the queue idle, so later syncs still run.
func TestSyncGroupCommitPanicAnswersTheBatch(t *testing.T) {
	e := newEnv(t)
	ids, lics := e.syncFleet(1)
	at := e.clk.Now().Add(-3 * time.Hour)
	waiting := job(batchReport(ids[0], lics[0], at, 1, 5))
	broken := &syncJob{deviceID: ids[0], weight: 1, done: make(chan bool, 1)} // no report: panics
	q := &e.lg.syncq
	q.pending = []*syncJob{waiting} // arrived while another commit ran
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the panic did not reach its caller")
			}
		}()
		q.run(e.lg, broken)
	}()
	if lead := <-waiting.done; lead || waiting.err == nil {
		t.Fatalf("waiting job: lead %v err %v", lead, waiting.err)
	}
	if q.busy || len(q.pending) != 0 {
		t.Fatalf("queue left busy %v with %d pending", q.busy, len(q.pending))
	}
	if resp, err := e.lg.Reconcile(ctx, ids[0], batchReport(ids[0], lics[0], at, 1, 5)); err != nil || resp.AckedSeq != 1 {
		t.Fatalf("a sync after the panic: %+v %v", resp, err)
	}
}
