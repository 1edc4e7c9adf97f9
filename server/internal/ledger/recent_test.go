package ledger

import (
	"slices"
	"testing"
)

// TestRecentDeductionsNewestFirstAndOnlyTheSubtree: days charged to acme's
// and beta's licenses; acme sees only its own, newest first, as
// ListDeductions shows them; dist sees both; beta never sees acme's.
func TestRecentDeductionsNewestFirstAndOnlyTheSubtree(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, beta := e.tree()
	e.device(acme, "acme", "dev-a", "sensor-a")
	e.device(beta, "beta", "dev-b", "sensor-a")
	la := e.create(dist, days("acme", 5))
	lb := e.create(dist, days("beta", 5))
	e.bind(acme, la.ID, "dev-a")
	e.bind(beta, lb.ID, "dev-b")
	for seq := int64(1); seq <= 3; seq++ {
		if _, err := e.lg.Deduct(ctx, DeductInput{DeviceID: "dev-a", Seq: seq}); err != nil {
			t.Fatal(err)
		}
		e.clk.Advance(Day)
	}
	if _, err := e.lg.Deduct(ctx, DeductInput{DeviceID: "dev-b", Seq: 1}); err != nil {
		t.Fatal(err)
	}
	got, err := e.lg.RecentDeductions(ctx, acme, 10)
	if err != nil || len(got) != 3 {
		t.Fatalf("acme's recent deductions: %+v, %v", got, err)
	}
	if got[0].DaysBefore != 3 || got[0].DaysAfter != 2 || got[2].DaysBefore != 5 || got[0].LicenseID != la.ID ||
		got[0].Serial != la.Serial || got[0].DeviceID != "dev-a" || !got[0].At.After(got[2].At) {
		t.Fatalf("acme's recent deductions, newest first: %+v", got)
	}
	per, err := e.lg.ListDeductions(ctx, acme, la.ID)
	if err != nil || !per[2].PaidUntil.Equal(got[0].PaidUntil) {
		t.Fatalf("the newest recent deduction %+v is not the license's latest %+v (%v)", got[0], per, err)
	}
	for _, d := range got {
		if d.LicenseID == lb.ID {
			t.Fatal("acme sees a deduction of beta's license")
		}
	}
	if all, err := e.lg.RecentDeductions(ctx, dist, 10); err != nil || len(all) != 4 || all[0].LicenseID != lb.ID {
		t.Fatalf("dist's recent deductions: %+v, %v", all, err)
	}
	if bs, err := e.lg.RecentDeductions(ctx, beta, 10); err != nil || len(bs) != 1 || bs[0].LicenseID != lb.ID {
		t.Fatalf("beta's recent deductions: %+v, %v", bs, err)
	}
	if two, err := e.lg.RecentDeductions(ctx, dist, 2); err != nil || len(two) != 2 {
		t.Fatalf("limit 2: %+v, %v", two, err)
	}
}

// TestRecentDeductionsHideTheParents: acme-sub, below acme, does not see
// the days charged to acme's own license (ListDeductions refuses it the
// license), while acme sees the days of acme-sub's license.
func TestRecentDeductionsHideTheParents(t *testing.T) {
	e := newEnv(t)
	dist, acme, sub, _ := e.tree()
	e.device(acme, "acme", "dev-a", "sensor-a")
	e.device(sub, "acme-sub", "dev-s", "sensor-a")
	la := e.create(dist, days("acme", 5))
	ls := e.create(dist, days("acme-sub", 5))
	e.bind(acme, la.ID, "dev-a")
	e.bind(sub, ls.ID, "dev-s")
	for _, dev := range []string{"dev-a", "dev-s"} {
		if _, err := e.lg.Deduct(ctx, DeductInput{DeviceID: dev, Seq: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.lg.ListDeductions(ctx, sub, la.ID); err == nil {
		t.Fatal("acme-sub lists acme's deductions")
	}
	got, err := e.lg.RecentDeductions(ctx, sub, 10)
	if err != nil || len(got) != 1 || got[0].LicenseID != ls.ID {
		t.Fatalf("acme-sub's recent deductions: %+v, %v", got, err)
	}
	if got, err := e.lg.RecentDeductions(ctx, acme, 10); err != nil || len(got) != 2 {
		t.Fatalf("acme's recent deductions: %+v, %v", got, err)
	}
}

// TestRecentNoticesOnlyTheSubtree: notices of acme's and beta's licenses
// fall due; acme sees its own only, newest first, dist both, beta none of
// acme's.
func TestRecentNoticesOnlyTheSubtree(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, beta := e.tree()
	la := e.create(dist, renewOff("acme", 1))
	lb := e.create(dist, renewOff("beta", 1))
	e.device(acme, "acme", "dev-a", "sensor-a")
	e.device(beta, "beta", "dev-b", "sensor-a")
	e.bind(acme, la.ID, "dev-a")
	e.bind(beta, lb.ID, "dev-b")
	e.walkNotices(6*60*60*1e9, e.get(la.ID).End.Add(2*Day))
	want := e.notices(acme, la.ID)
	if len(want) == 0 {
		t.Fatal("no notices fell due")
	}
	mixed, err := e.lg.RecentNotices(ctx, acme, MaxRecent)
	if err != nil {
		t.Fatal(err)
	}
	// The walk crosses a month: acme's monthly reports (about no license)
	// are its own too.
	got, _ := splitNotices(t, mixed, "acme", "acme-sub")
	if len(got) != len(want) {
		t.Fatalf("acme's recent license notices: %d, its license has %d", len(got), len(want))
	}
	for i, n := range got {
		if n.LicenseID != la.ID || n.ID != want[len(want)-1-i].ID {
			t.Fatalf("acme's recent notice %d is %s of %s, want %s (newest first)", i, n.ID, n.LicenseID, want[len(want)-1-i].ID)
		}
	}
	mixed, err = e.lg.RecentNotices(ctx, dist, MaxRecent)
	if err != nil {
		t.Fatal(err)
	}
	if all, _ := splitNotices(t, mixed, "dist", "acme", "acme-sub", "beta"); len(all) != 2*len(want) {
		t.Fatalf("dist's recent license notices: %d, want %d", len(all), 2*len(want))
	}
	bs, err := e.lg.RecentNotices(ctx, beta, MaxRecent)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range bs {
		if n.LicenseID == la.ID || n.CustomerID == "acme" {
			t.Fatal("beta sees a notice of acme's")
		}
	}
	if three, _ := e.lg.RecentNotices(ctx, dist, 3); len(three) != 3 {
		t.Fatalf("limit 3: %d", len(three))
	}
}

// TestRecentLimitBounded: a limit of 0 is the default, over MaxRecent is
// MaxRecent.
func TestRecentLimitBounded(t *testing.T) {
	for _, tc := range []struct{ in, want int }{{0, 10}, {-5, 10}, {3, 3}, {MaxRecent + 1, MaxRecent}} {
		if got := recentLimit(tc.in); got != tc.want {
			t.Errorf("recentLimit(%d) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

// splitNotices parts ns into license notices and customer notices, failing
// the test on a customer notice of a customer not among sees.
func splitNotices(t *testing.T, ns []Notice, sees ...string) (lic, cust []Notice) {
	t.Helper()
	for _, n := range ns {
		if n.LicenseID != "" {
			lic = append(lic, n)
			continue
		}
		if !slices.Contains(sees, n.CustomerID) {
			t.Fatalf("a notice of %s is listed", n.CustomerID)
		}
		cust = append(cust, n)
	}
	return lic, cust
}

// BenchmarkRecentDeductions reads the 10 latest deductions of the vendor's
// tree when the 300 days charged lie behind 1,000 newer audit entries of
// another kind (licenses created): the bounded scan the dashboard makes.
func BenchmarkRecentDeductions(b *testing.B) {
	lg, db := benchLedger(b, b.TempDir())
	defer db.Close()
	benchDevice(b, lg, "dev-0")
	in := days("acme", 400)
	ls, err := lg.CreateLicenses(ctx, SystemActor(), in)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := lg.Bind(ctx, SystemActor(), ls[0].ID, BindInput{DeviceID: "dev-0"}); err != nil {
		b.Fatal(err)
	}
	for seq := int64(1); seq <= 300; seq++ {
		if _, err := lg.Deduct(ctx, DeductInput{DeviceID: "dev-0", Seq: seq}); err != nil {
			b.Fatal(err)
		}
	}
	more := std("acme")
	more.Count = MaxBatch
	if _, err := lg.CreateLicenses(ctx, SystemActor(), more); err != nil {
		b.Fatal(err)
	}
	var lat latencies
	b.ResetTimer()
	for range b.N {
		lat.begin()
		got, err := lg.RecentDeductions(ctx, SystemActor(), 10)
		if err != nil || len(got) != 10 {
			b.Fatalf("%d, %v", len(got), err)
		}
		lat.end()
	}
	b.StopTimer()
	lat.report(b)
}
