package syncer

import (
	"fmt"
	"testing"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/tollgate-iot/tollgate/agent/internal/store"
	"github.com/tollgate-iot/tollgate/shared/limits"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

func putRefused(t *testing.T, st *store.Store, dev string, hour, n int64) {
	t.Helper()
	putRefusedBy(t, st, dev, hour, n, nil)
}

func putRefusedBy(t *testing.T, st *store.Store, dev string, hour, n int64, by map[string]int64) {
	t.Helper()
	if err := st.DB().Update(func(txn *badger.Txn) error { return store.AddRefused(txn, dev, hour, n, by) }); err != nil {
		t.Fatal(err)
	}
}

// TestBuildReportsRefusedByReason: each reason's refusals of an hour,
// added over several flushes, are reported in the hour's refused_by; the
// first MaxRefusedByReasons reasons of an hour are kept by reason, and a
// later one counts in refused only (its reason unknown), so that a reason
// once reported never leaves a later report of the hour. Hours stored
// before the reasons were (none) report no map.
func TestBuildReportsRefusedByReason(t *testing.T) {
	st := openStore(t)
	putRefused(t, st, "gw-1", h0, 2) // an older agent's hour
	for _, r := range wire.RefusalReasons {
		// One refusal of each reason, all in one hour.
		putRefusedBy(t, st, "child-1", h0, 1, map[string]int64{r: 1})
	}
	putRefusedBy(t, st, "gw-1", h0+1, 5, map[string]int64{wire.ReasonOverBudget: 4, wire.ReasonNoDays: 1})
	putRefusedBy(t, st, "gw-1", h0+1, 3, map[string]int64{wire.ReasonOverBudget: 2, wire.ReasonExpired: 1})
	putRefusedBy(t, st, "gw-1", h0+1, 2, map[string]int64{wire.ReasonRevoked: 1, wire.ReasonNoDays: 1}) // a fourth reason
	r, _ := build(t, st, "gw-1", "child-1")
	if len(r.Counts) != 3 {
		t.Fatalf("counts %+v", r.Counts)
	}
	child, old, hour := r.Counts[0], r.Counts[1], r.Counts[2]
	n := int64(len(wire.RefusalReasons))
	// The child's first three reasons in the closed set's order.
	want := map[string]int64{wire.ReasonBlacklisted: 1, wire.ReasonNoLicense: 1, wire.ReasonRevoked: 1}
	if w := (syncproto.HourlyCount{DeviceID: "child-1", Hour: h0 * 3600, Refused: n, RefusedBy: want}); !child.Equal(&w) {
		t.Fatalf("child %+v, want %+v", child, w)
	}
	if old.RefusedBy != nil || old.Refused != 2 {
		t.Fatalf("an hour without reasons: %+v", old)
	}
	want = map[string]int64{wire.ReasonOverBudget: 6, wire.ReasonNoDays: 2, wire.ReasonExpired: 1}
	if w := (syncproto.HourlyCount{DeviceID: "gw-1", Hour: (h0 + 1) * 3600, Refused: 10, RefusedBy: want}); !hour.Equal(&w) {
		t.Fatalf("hour %+v, want %+v (revoked without its reason)", hour, w)
	}
	if err := r.Validate(); err != nil {
		t.Fatalf("the report does not validate: %v", err)
	}
}

// TestBuildJoinsRefusedToItsHour: an hour's refused samples join its
// bucket; an hour with refusals only is reported with nothing accepted.
func TestBuildJoinsRefusedToItsHour(t *testing.T) {
	st := openStore(t)
	putBucket(t, st, "gw-1", h0, 10, 2)
	putRefused(t, st, "gw-1", h0, 4)
	putRefused(t, st, "gw-1", h0+1, 6) // refused only
	putBucket(t, st, "gw-1", h0+2, 1, 0)
	putRefused(t, st, "child-1", h0, 3)
	r, p := build(t, st, "gw-1", "child-1")
	want := "[{child-1 1796083200 0 0 3 map[]} {gw-1 1796083200 10 2 4 map[]} {gw-1 1796086800 0 0 6 map[]} {gw-1 1796090400 1 0 0 map[]}]"
	if got := countsString(r); got != want {
		t.Fatalf("counts %s\nwant   %s", got, want)
	}
	if p.Hours["gw-1"] != h0+2 || p.Hours["child-1"] != h0 || p.MoreCounts {
		t.Fatalf("page %+v", p)
	}
}

// TestBuildPagesRefusedHours: refused-only hours count against the
// report's room like any hour, and the next report goes on from the last.
func TestBuildPagesRefusedHours(t *testing.T) {
	st := openStore(t)
	n := int64(limits.MaxSyncCounts + 5)
	wb := st.DB().NewWriteBatch()
	for h := range n {
		if err := wb.Set(store.KeyRefusedHour("gw-1", h0+h), []byte{0, 0, 0, 0, 0, 0, 0, 1}); err != nil {
			t.Fatal(err)
		}
	}
	if err := wb.Flush(); err != nil {
		t.Fatal(err)
	}
	putBucket(t, st, "gw-1", h0+n-1, 9, 0)
	r, p := build(t, st, "gw-1")
	if len(r.Counts) != limits.MaxSyncCounts || !p.MoreCounts || r.Counts[len(r.Counts)-1].Refused != 1 {
		t.Fatalf("%d counts, more %v", len(r.Counts), p.MoreCounts)
	}
	ack(t, st, 0, p)
	r, p = build(t, st, "gw-1")
	last := r.Counts[len(r.Counts)-1]
	if len(r.Counts) != 6 || p.MoreCounts || last.Accepted != 9 || last.Refused != 1 {
		t.Fatalf("second page: %d counts, more %v, last %+v", len(r.Counts), p.MoreCounts, last)
	}
}

func countsString(r *syncproto.Report) string { return fmt.Sprint(r.Counts) }

// TestPruneRefusedTakesReasons: pruning a device's old refused hours
// deletes their reasons too, and keeps the hours from the bound on.
func TestPruneRefusedTakesReasons(t *testing.T) {
	st := openStore(t)
	for h := range int64(3) {
		putRefusedBy(t, st, "gw-1", h0+h, 2, map[string]int64{wire.ReasonOverBudget: 2})
	}
	if err := st.DB().Update(func(txn *badger.Txn) error { return store.PruneRefused(txn, "gw-1", h0+2) }); err != nil {
		t.Fatal(err)
	}
	if n, err := st.Count(store.PrefixRefusedBy("gw-1")); err != nil || n != 1 {
		t.Fatalf("%d hours of reasons left, want 1 (%v)", n, err)
	}
	rs, err := st.RefusedFrom("gw-1", 0, 10)
	if err != nil || len(rs) != 1 || rs[0].Hour != h0+2 || rs[0].By[wire.ReasonOverBudget] != 2 {
		t.Fatalf("refused %+v, %v", rs, err)
	}
}
