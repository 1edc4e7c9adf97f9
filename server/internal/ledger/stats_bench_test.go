package ledger

import "testing"

// BenchmarkStats100k answers the statistics of a customer whose subtree
// holds 100,000 licenses (the listing fixture: ten customers, one license
// in a hundred bound, another suspended): from the counters and indexes
// (counters), and by the full scan the counters replace (recount), so that
// make bench shows the ratio.
func BenchmarkStats100k(b *testing.B) {
	lg := buildListFixture(b)
	acme := Actor{UserID: "bench", CustomerID: "acme", Role: RoleViewer}
	b.Run("counters", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			st, err := lg.Stats(ctx, acme, "")
			if err != nil || st.ByType["standard"] != fixtureLicenses {
				b.Fatalf("Stats: %v, %+v", err, st)
			}
		}
	})
	b.Run("recount", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if st := recountStats(b, lg, "acme"); st.ByType["standard"] != fixtureLicenses {
				b.Fatalf("recount: %+v", st.ByType)
			}
		}
	})
}
