package ledger

import (
	"slices"
	"testing"
)

func TestListByDescriptionNeverMatchesHiddenDistributorDescription(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, beta := e.tree()
	in := std("acme")
	in.DistributorDescription, in.CustomerDescription = "PO-4711", "Line 3"
	l := e.create(dist, in)
	e.create(dist, std("acme")) // no descriptions
	for _, tc := range []struct {
		name string
		a    Actor
		text string
		want []string
	}{
		{"issuer reads its PO, any case", dist, "po-47", []string{l.ID}},
		{"vendor reads it too", e.root, "4711", []string{l.ID}},
		{"customer text for the customer", acme, "line", []string{l.ID}},
		{"customer cannot probe the PO", acme, "PO-4711", nil},
		{"sibling sees nothing", beta, "line", nil},
		{"no match", dist, "nothing like it", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := listIDs(t, e, tc.a, LicenseFilter{Description: tc.text}, 10); !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestListByActivationAndEndRange(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, _ := e.tree()
	e.device(acme, "acme", "d1", "sensor-a")
	e.device(acme, "acme", "d2", "sensor-a")
	month := std("acme")
	month.Months = 1
	year := std("acme")
	year.Months = 12
	first, second, unbound := e.create(dist, month), e.create(dist, year), e.create(dist, year)
	e.bind(acme, first.ID, "d1")
	e.clk.Advance(10 * Day)
	e.bind(acme, second.ID, "d2")
	five, twenty := e.create(dist, days("acme", 5)), e.create(dist, days("acme", 20))
	now := e.clk.Now()
	mid := epoch.Add(5 * Day)

	for _, tc := range []struct {
		name string
		f    LicenseFilter
		want []string
	}{
		{"activated from", LicenseFilter{ActivatedFrom: mid}, []string{second.ID}},
		{"activated to", LicenseFilter{ActivatedTo: mid}, []string{first.ID}},
		{"activated in a window holding neither", LicenseFilter{ActivatedFrom: mid, ActivatedTo: mid.Add(Day)}, nil},
		// day licenses end after their available days from now; the
		// one-month term license at the end of its first period
		{"ends within 10 days", LicenseFilter{EndsTo: now.Add(10 * Day)}, []string{five.ID}},
		{"ends in the next 60 days", LicenseFilter{EndsFrom: now, EndsTo: now.Add(60 * Day)}, []string{first.ID, five.ID, twenty.ID}},
		{"ends after 60 days", LicenseFilter{EndsFrom: now.Add(60 * Day)}, []string{second.ID, unbound.ID}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := listIDs(t, e, dist, tc.f, 2)
			slices.Sort(got)
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("got %v, want %v", got, want)
			}
		})
	}
	if end, ok := e.get(five.ID).ProjectedEnd(now); !ok || !end.Equal(now.Add(5*Day)) {
		t.Fatalf("projected end of an unbound 5-day license = %v, %v; want now + 5 days", end, ok)
	}
}

func TestSalesFilteredByDateLicenseAndMethod(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, beta := e.tree()
	in := std("dist")
	in.Count = 2
	made, err := e.lg.CreateLicenses(ctx, e.root, in)
	if err != nil {
		t.Fatal(err)
	}
	sell, err := e.lg.Sell(ctx, dist, BatchInput{CustomerID: "acme", IDs: []string{made[0].ID, made[1].ID}})
	if err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(3 * Day)
	ret, err := e.lg.Return(ctx, acme, BatchInput{IDs: []string{made[1].ID}})
	if err != nil {
		t.Fatal(err)
	}
	ids := func(a Actor, f SaleFilter) []int64 {
		t.Helper()
		ss, _, err := e.lg.ListSales(ctx, a, f)
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, s := range ss {
			out = append(out, s.ID)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		a    Actor
		f    SaleFilter
		want []int64
	}{
		{"all, newest first", dist, SaleFilter{}, []int64{ret.ID, sell.ID}},
		{"sells", dist, SaleFilter{Kind: SaleSell}, []int64{sell.ID}},
		{"returns", acme, SaleFilter{Kind: SaleReturn}, []int64{ret.ID}},
		{"transfers", dist, SaleFilter{Kind: SaleTransfer}, nil},
		{"license kept", dist, SaleFilter{LicenseID: made[0].ID}, []int64{sell.ID}},
		{"license returned", dist, SaleFilter{LicenseID: made[1].ID}, []int64{ret.ID, sell.ID}},
		{"from", dist, SaleFilter{From: epoch.Add(Day)}, []int64{ret.ID}},
		{"to is exclusive", dist, SaleFilter{To: epoch.Add(3 * Day)}, []int64{sell.ID}},
		{"sibling", beta, SaleFilter{LicenseID: made[0].ID}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ids(tc.a, tc.f); !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
	// A filtered page walks on past records it skips: page size 1 over
	// "sells" still ends.
	ss, next, err := e.lg.ListSales(ctx, dist, SaleFilter{Kind: SaleSell, Limit: 1})
	if err != nil || len(ss) != 1 || ss[0].ID != sell.ID || next != "" {
		t.Fatalf("one-per-page sells = %v, next %q, %v", ss, next, err)
	}
}
