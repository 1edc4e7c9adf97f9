package syncer

import (
	"fmt"
	"testing"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/tollgate-iot/tollgate/agent/internal/store"
	"github.com/tollgate-iot/tollgate/shared/limits"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
)

func putRefused(t *testing.T, st *store.Store, dev string, hour, n int64) {
	t.Helper()
	if err := st.DB().Update(func(txn *badger.Txn) error { return store.AddRefused(txn, dev, hour, n) }); err != nil {
		t.Fatal(err)
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
