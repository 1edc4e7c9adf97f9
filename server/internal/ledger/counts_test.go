package ledger

import (
	"fmt"
	"testing"

	"github.com/tollgate-iot/tollgate/server/internal/store"
)

// TestLicenseCountsMatchTheListing: LicenseCounts, which reads only the
// index summaries, agrees with the statuses the listing derives from full
// records — for a ledger with several statuses and customers, after time
// alone moves a license to expired, and for an index entry without a
// summary (read in full).
func TestLicenseCountsMatchTheListing(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, _ := e.tree()
	e.device(acme, "acme", "dev-1", "sensor-a")
	ending := std("acme")
	ending.Months, ending.Renew = 1, new(bool) // ends 2026-05-01 without renewal
	short := e.create(dist, ending)
	bound := e.create(dist, std("acme"))
	e.bind(acme, bound.ID, "dev-1")
	e.create(dist, days("beta", 5))
	revoked := e.create(dist, std("beta"))
	if _, err := e.lg.Revoke(ctx, e.root, revoked.ID); err != nil {
		t.Fatal(err)
	}
	check := func(step string) map[string]map[Status]int64 {
		t.Helper()
		ls, _, err := e.lg.ListLicenses(ctx, e.root, LicenseFilter{Limit: MaxPageSize})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]map[Status]int64{}
		for _, l := range ls {
			if want[l.CustomerID] == nil {
				want[l.CustomerID] = map[Status]int64{}
			}
			want[l.CustomerID][l.Status]++
		}
		got, err := e.lg.LicenseCounts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%s: LicenseCounts = %v, the listing shows %v", step, got, want)
		}
		return got
	}
	got := check("start")
	if got["acme"][StatusActive] != 1 || got["beta"][StatusRevoked] != 1 {
		t.Fatalf("the ledger is not the one the test meant to build: %v", got)
	}
	before := got["acme"][StatusExpired]
	e.clk.Advance(60 * Day)
	if got := check("60 days later"); got["acme"][StatusExpired] != before+1 {
		t.Fatalf("the license that ended is not counted expired: %v (%s)", got, short.ID)
	}
	// An entry written before summaries existed has none: it is read in full.
	if err := e.lg.db.Update(func(x *store.Txn) error {
		return x.Put(store.LicenseByCustomerKey("acme", bound.ID), nil)
	}); err != nil {
		t.Fatal(err)
	}
	check("without a summary")
}
