package ledger

import (
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/shared/syncproto"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// TestRefusedByMergesByMaxPerReason: an hour's refusals by reason only
// grow. A re-sent hour with higher reasons replaces the held one; a re-sent
// hour with one reason lower is refused (counter_went_down) even when its
// refused total is not lower; a forked report's lower hour is merged
// reason by reason at the highest, refused raised to the reasons' sum;
// the same report again changes nothing (nothing counted twice).
func TestRefusedByMergesByMaxPerReason(t *testing.T) {
	c := newLateCase(t)
	c.e.clk.Set(epoch.Add(6 * time.Hour))
	at := epoch.Add(time.Hour)
	hour := at.Truncate(time.Hour)
	send := func(seq, refused int64, by map[string]int64) *syncproto.Report {
		r := batchReport(c.dev, c.lic, at.Add(time.Duration(seq)*time.Minute), seq, 50)
		r.Counts[0].Refused, r.Counts[0].RefusedBy = refused, by
		return r
	}
	held := func() syncproto.HourlyCount {
		t.Helper()
		st := c.syncState()
		for _, h := range st.Hourly {
			if h.Hour == hour.Unix() {
				return h
			}
		}
		t.Fatalf("hour %s not held: %+v", hour, st.Hourly)
		return syncproto.HourlyCount{}
	}
	want := func(step string, refused int64, by map[string]int64) {
		t.Helper()
		w := syncproto.HourlyCount{DeviceID: c.dev, Hour: hour.Unix(), Accepted: 50, Refused: refused, RefusedBy: by}
		if h := held(); !h.Equal(&w) {
			t.Fatalf("%s: held %+v, want %+v", step, h, w)
		}
	}
	if _, err := c.e.lg.Reconcile(ctx, c.dev, send(1, 6, map[string]int64{wire.ReasonOverBudget: 4, wire.ReasonNoDays: 2})); err != nil {
		t.Fatal(err)
	}
	want("first", 6, map[string]int64{wire.ReasonOverBudget: 4, wire.ReasonNoDays: 2})
	if _, err := c.e.lg.Reconcile(ctx, c.dev, send(2, 9, map[string]int64{wire.ReasonOverBudget: 7, wire.ReasonNoDays: 2})); err != nil {
		t.Fatal(err)
	}
	want("higher", 9, map[string]int64{wire.ReasonOverBudget: 7, wire.ReasonNoDays: 2})

	// The same total, split otherwise: over_budget went down. Refused whole.
	_, err := c.e.lg.Reconcile(ctx, c.dev, send(3, 9, map[string]int64{wire.ReasonOverBudget: 5, wire.ReasonNoDays: 4}))
	wantErr(t, err, ErrCounterWentDown)
	// A reason left out is a reason at 0: lower too.
	_, err = c.e.lg.Reconcile(ctx, c.dev, send(3, 9, map[string]int64{wire.ReasonOverBudget: 9}))
	wantErr(t, err, ErrCounterWentDown)
	want("after the refused", 9, map[string]int64{wire.ReasonOverBudget: 7, wire.ReasonNoDays: 2})

	// A fork (seq 2 again, another day) with its own lower split: merged.
	fork := send(2, 8, map[string]int64{wire.ReasonOverBudget: 3, wire.ReasonNoDays: 5})
	fork.Deductions[0].At += 600
	fork.Deductions[0].PaidUntil += 600
	for range 2 {
		if _, err := c.e.lg.Reconcile(ctx, c.dev, fork); err != nil {
			t.Fatalf("forked report refused: %v", err)
		}
		// 7 over budget (held) + 5 no days (forked) = 12 > 9 held refused.
		want("fork", 12, map[string]int64{wire.ReasonOverBudget: 7, wire.ReasonNoDays: 5})
	}
	if st := c.syncState(); st.Forks != 1 || st.CountConflicts != 1 {
		t.Fatalf("forks %d conflicts %d, want 1 and 1", st.Forks, st.CountConflicts)
	}
	// The receipts of the server's hours add what each write raised: 6,
	// then 3, then 3 for the fork's merge — 12, never a count twice.
	// By reason: over_budget 4, +3, +0; no_days 2, +0, +3.
	st := c.syncState()
	if !st.ByReceipt || st.Last24h.Refused != 12 || st.Last24h.Accepted != 50 ||
		len(st.Last24h.RefusedBy) != 2 || st.Last24h.RefusedBy[wire.ReasonOverBudget] != 7 || st.Last24h.RefusedBy[wire.ReasonNoDays] != 5 {
		t.Fatalf("received (by receipt %v) %+v, want 50 accepted and 12 refused: 7 over_budget, 5 no_days", st.ByReceipt, st.Last24h)
	}
}

// TestLedgerRefusesBadRefusedBy: a report handed to the ledger without
// the contract's validation (any caller) still cannot store a refused_by
// that names an unknown reason or adds up past refused.
func TestLedgerRefusesBadRefusedBy(t *testing.T) {
	c := newLateCase(t)
	c.e.clk.Set(epoch.Add(6 * time.Hour))
	for _, tc := range []struct {
		by   map[string]int64
		want error
	}{
		{map[string]int64{"free": 1}, syncproto.ErrUnknownReason},
		{map[string]int64{wire.ReasonOverBudget: 4}, syncproto.ErrReasonsPastRefused},
	} {
		r := batchReport(c.dev, c.lic, epoch.Add(time.Hour), 1, 5)
		r.Counts[0].Refused, r.Counts[0].RefusedBy = 3, tc.by
		_, err := c.e.lg.Reconcile(ctx, c.dev, r)
		wantErr(t, err, tc.want)
	}
	if st := c.syncState(); st.HighestSeq != 0 || len(st.Hourly) != 0 {
		t.Fatalf("a refused report applied something: %+v", st.SyncState)
	}
}
