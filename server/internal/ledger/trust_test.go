package ledger

import (
	"math"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/limits"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
)

// What the ledger takes from a device and what it computes itself
// (docs/sync.md "What the server believes"). The attacks through the real
// router are in api/sync_attack_test.go.

// TestDeductFutureAtChargedNow: Deduct, like a sync, charges a day dated
// ahead of the server's clock at the server's now.
func TestDeductFutureAtChargedNow(t *testing.T) {
	c := newLateCase(t)
	now := c.e.clk.Now().UTC().Truncate(time.Second)
	rec, err := c.e.lg.Deduct(ctx, DeductInput{DeviceID: c.dev, Seq: 1, At: now.AddDate(10, 0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if !rec.At.Equal(now) || !rec.PaidUntil.Equal(now.Add(Day)) || !rec.ReportedAt.Equal(now.AddDate(10, 0, 0)) {
		t.Fatalf("deduction %+v, want charged at %v", rec, now)
	}
	if l := c.e.get(c.lic); !l.PaidUntil.Equal(now.Add(Day)) {
		t.Fatalf("paid until %v, want %v", l.PaidUntil, now.Add(Day))
	}
}

// TestForkChargedOnceInOneGroupCommit: the same forked record in two
// reports of one group commit is charged once.
func TestForkChargedOnceInOneGroupCommit(t *testing.T) {
	c, _, forked := forkCase(t)
	again := *forked
	again.Nonce = "BBBBBBBBBBBBBBBBBBBBBB"
	batch := []*syncJob{job(forked), job(&again)}
	for _, j := range batch {
		var err error
		if j.enc, err = encodeReport(j.r); err != nil {
			t.Fatal(err)
		}
	}
	c.e.lg.commitSyncBatch(batch)
	for i, j := range batch {
		if j.err != nil {
			t.Fatalf("report %d: %v", i, j.err)
		}
	}
	c.wantForkApplied(time.Unix(forked.Counts[0].Hour, 0))
}

// TestSyncStatusTotalsSaturate: counts held from before the per-hour bound
// (three hours of 2^62) sum to the int64 maximum, never negative.
func TestSyncStatusTotalsSaturate(t *testing.T) {
	c := newLateCase(t)
	now := c.e.clk.Now().Truncate(time.Hour)
	err := c.e.lg.update(func(o *op) error {
		for h := 1; h <= 3; h++ {
			hc := syncproto.HourlyCount{DeviceID: c.dev, Hour: now.Add(-time.Duration(h) * time.Hour).Unix(),
				Accepted: 1 << 62, Overage: 1 << 62, Refused: 1 << 62}
			if err := o.x.PutJSON(store.HourlyCountKey(hc.DeviceID, hc.Hour), &hc); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	st := c.syncState()
	want := CountTotals{Accepted: math.MaxInt64, Overage: math.MaxInt64, Refused: math.MaxInt64}
	if st.Last24h != want || st.Last7d != want {
		t.Fatalf("totals 24h %+v 7d %+v, want saturated at the int64 maximum", st.Last24h, st.Last7d)
	}
}

// TestReconcileRefusesImpossibleCount: the ledger refuses a count past
// the bound itself, whoever calls it.
func TestReconcileRefusesImpossibleCount(t *testing.T) {
	c := newLateCase(t)
	r := batchReport(c.dev, c.lic, epoch, 1, limits.MaxCountPerHour+1)
	_, err := c.e.lg.Reconcile(ctx, c.dev, r)
	wantErr(t, err, syncproto.ErrImpossibleCount)
	if got := c.e.get(c.lic).AvailableDays; got != 30 {
		t.Fatalf("%d days: a refused report charged", got)
	}
}

// TestObservedCountsBounded: the broker's counts past the bound are
// skipped, and their sum per hour stops at it instead of wrapping.
func TestObservedCountsBounded(t *testing.T) {
	c := newLateCase(t)
	h := epoch.Truncate(time.Hour).Unix()
	obs := func(n int64) ObservedCount {
		return ObservedCount{CustomerID: "acme", DeviceID: c.dev, Hour: h, Count: n}
	}
	kept, skipped, err := c.e.lg.AddObservedCounts(ctx, []ObservedCount{obs(limits.MaxCountPerHour + 1), obs(limits.MaxCountPerHour), obs(limits.MaxCountPerHour)})
	if err != nil || kept != 2 || skipped != 1 {
		t.Fatalf("kept %d skipped %d: %v", kept, skipped, err)
	}
	v, err := c.e.lg.DeviceTelemetry(ctx, SystemActor(), c.dev, TelemetryWindow{From: epoch.Add(-time.Hour), To: epoch.Add(time.Hour)})
	if err != nil || v.Observed != limits.MaxCountPerHour {
		t.Fatalf("observed %d, %v: want %d", v.Observed, err, int64(limits.MaxCountPerHour))
	}
}
