package ledger

import (
	"io"
	"log/slog"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/keys"
	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/clock"
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
	c.e.lg.commitSyncBatch(&batch, noMore)
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
			if err := o.putHeldCounts([]syncproto.HourlyCount{hc}); err != nil {
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
	if !reflect.DeepEqual(st.Last24h, want) || !reflect.DeepEqual(st.Last7d, want) {
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

// TestForkChargeSurvivesRestart: a fork and its charge are committed
// together; after a restart the same forked record is neither recorded nor
// charged again.
func TestForkChargeSurvivesRestart(t *testing.T) {
	dir, keyDir := t.TempDir(), t.TempDir()
	clk := clock.NewFake(epoch)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ks, err := keys.Open(keyDir, clk)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ks.Rotate(); err != nil {
		t.Fatal(err)
	}
	open := func() (*Ledger, *store.DB) {
		db, err := store.Open(store.Options{Dir: dir, Profile: store.ProfileSmall, Clock: clk, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		lg, err := New(Options{DB: db, Clock: clk, Keys: ks, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		return lg, db
	}
	lg, db := open()
	if _, _, _, err := lg.Bootstrap(ctx, "Vendor", "ops@vendor.test"); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, lg: lg, clk: clk, ks: ks, root: admin("root")}
	ids, lics := e.syncFleet(1)
	at := epoch.Add(time.Hour)
	clk.Set(epoch.Add(6 * time.Hour))
	for _, r := range []*syncproto.Report{batchReport(ids[0], lics[0], at, 1, 5), batchReport(ids[0], lics[0], at.Add(time.Minute), 1, 5)} {
		if _, err := lg.Reconcile(ctx, ids[0], r); err != nil {
			t.Fatal(err)
		}
	}
	if got := e.get(lics[0]).AvailableDays; got != 28 {
		t.Fatalf("%d days, want 28: seq 1 and its fork", got)
	}
	db.Close()

	lg, db = open()
	defer db.Close()
	e.lg = lg
	if _, err := lg.Reconcile(ctx, ids[0], batchReport(ids[0], lics[0], at.Add(time.Minute), 1, 5)); err != nil {
		t.Fatal(err)
	}
	st, err := lg.DeviceSyncStatus(ctx, SystemActor(), ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if got := e.get(lics[0]).AvailableDays; got != 28 || st.Forks != 1 || len(st.ForkList) != 1 || st.ForkList[0].Charge == nil {
		t.Fatalf("after restart: %d days, forks %d %+v", got, st.Forks, st.ForkList)
	}
}
