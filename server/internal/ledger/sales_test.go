package ledger

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tollgate-iot/tollgate/shared/token"
)

func TestSellMovesNothingWhenOneLicenseIsLocked(t *testing.T) {
	e := newEnv(t)
	_, acme, _, _ := e.tree()
	in := std("dist")
	in.Count = 100
	ls, err := e.lg.CreateLicenses(ctx, e.root, in)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(ls))
	for i, l := range ls {
		ids[i] = l.ID
	}
	dist := admin("dist")
	if _, err := e.lg.SetLock(ctx, dist, ids[99], true); err != nil {
		t.Fatal(err)
	}
	_, err = e.lg.Sell(ctx, dist, BatchInput{CustomerID: "acme", IDs: ids})
	wantErr(t, err, ErrLocked)
	got, _, _ := e.lg.ListLicenses(ctx, acme, LicenseFilter{CustomerID: "acme", Type: token.TypeStandard})
	if len(got) != 0 {
		t.Fatalf("a refused sale moved %d licenses", len(got))
	}
	sale, err := e.lg.Sell(ctx, dist, BatchInput{CustomerID: "acme", IDs: ids[:99]})
	if err != nil || len(sale.LicenseIDs) != 99 || sale.From != "dist" || sale.To != "acme" || sale.Kind != SaleSell {
		t.Fatalf("sale = %+v, %v", sale, err)
	}
}

func TestSellByCountAndReturn(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, _ := e.tree()
	in := std("dist")
	in.Count = 5
	e.lg.CreateLicenses(ctx, e.root, in)
	sale, err := e.lg.Sell(ctx, dist, BatchInput{CustomerID: "acme", Count: 3})
	if err != nil || len(sale.LicenseIDs) != 3 {
		t.Fatalf("sell 3: %+v, %v", sale, err)
	}
	_, err = e.lg.Sell(ctx, dist, BatchInput{CustomerID: "acme", Count: 3})
	wantErr(t, err, ErrNotEnough)
	ret, err := e.lg.Return(ctx, acme, BatchInput{Count: 1})
	if err != nil || ret.From != "acme" || ret.To != "dist" || ret.Kind != SaleReturn {
		t.Fatalf("return: %+v, %v", ret, err)
	}
	mine, _, _ := e.lg.ListLicenses(ctx, acme, LicenseFilter{CustomerID: "acme", Type: token.TypeStandard})
	if len(mine) != 2 {
		t.Fatalf("acme holds %d standard licenses, want 2", len(mine))
	}
	// The trial is never picked by count.
	if tr := e.trial("acme"); tr.CustomerID != "acme" {
		t.Fatal("trial moved")
	}
	sales, _, _ := e.lg.ListSales(ctx, dist, SaleFilter{})
	if len(sales) != 2 || sales[0].Kind != SaleReturn || sales[1].Kind != SaleSell {
		t.Fatalf("sales records %+v", sales)
	}
}

func TestSellOnlyUnusedToDirectSubCustomer(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, _ := e.tree()
	l := e.create(e.root, std("dist"))
	_, err := e.lg.Sell(ctx, dist, BatchInput{CustomerID: "acme-sub", IDs: []string{l.ID}})
	wantErr(t, err, ErrForbidden) // acme-sub's parent is acme, which dist may not manage
	e.device(acme, "acme", "dev-1", "sensor-a")
	sold, _ := e.lg.Sell(ctx, dist, BatchInput{CustomerID: "acme", IDs: []string{l.ID}})
	if sold == nil {
		t.Fatal("sell to direct sub-customer failed")
	}
	e.bind(acme, l.ID, "dev-1")
	_, err = e.lg.Return(ctx, acme, BatchInput{IDs: []string{l.ID}})
	wantErr(t, err, ErrNotUnused)
}

func TestBulkCreateMakesIdenticalLicenses(t *testing.T) {
	e := newEnv(t)
	in := std("root")
	in.Count, in.DistributorDescription, in.CustomerDescription = 25, "PO-1", "order 7"
	ls, err := e.lg.CreateLicenses(ctx, e.root, in)
	if err != nil || len(ls) != 25 {
		t.Fatalf("bulk create: %d, %v", len(ls), err)
	}
	ids, serials := map[string]bool{}, map[string]bool{}
	for _, l := range ls {
		ids[l.ID], serials[l.Serial] = true, true
		if l.MaxSamplesPerHour != 1000 || l.DistributorDescription != "PO-1" || l.CustomerDescription != "order 7" || !l.End.Equal(ls[0].End) {
			t.Fatalf("license differs: %+v", l)
		}
	}
	if len(ids) != 25 || len(serials) != 25 {
		t.Fatal("ids or serials repeat")
	}
	in.Count = MaxBatch + 1
	_, err = e.lg.CreateLicenses(ctx, e.root, in)
	wantErr(t, err, ErrInvalid)
}

func TestCreateRefusesInvalidLicenseFields(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name string
		mod  func(in *LicenseInput)
	}{
		{"months-too-many", func(in *LicenseInput) { in.Months = 61 }},
		{"months-negative", func(in *LicenseInput) { in.Months = -1 }},
		{"days-on-term", func(in *LicenseInput) { in.Days = 3 }},
		{"no-models", func(in *LicenseInput) { in.Models = nil }},
		{"bad-model-pattern", func(in *LicenseInput) { in.Models = []string{"a/b"} }},
		{"negative-rate", func(in *LicenseInput) { in.MaxSamplesPerHour = -1 }},
		{"bad-enforcement", func(in *LicenseInput) { in.Enforcement = "warn" }},
		{"trial-with-days", func(in *LicenseInput) { in.Type, in.Billing, in.Months, in.Days = "trial", "days", 0, 3 }},
		{"bad-alignment", func(in *LicenseInput) { in.Alignment = "fiscal_year:13" }},
		{"huge-count", func(in *LicenseInput) { in.Count = 1 << 30 }},
		{"long-description", func(in *LicenseInput) { in.CustomerDescription = strings.Repeat("x", MaxDescriptionLen+1) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := std("root")
			tc.mod(&in)
			_, err := e.lg.CreateLicenses(ctx, e.root, in)
			wantErr(t, err, ErrInvalid)
		})
	}
	if ls, _, _ := e.lg.ListLicenses(ctx, e.root, LicenseFilter{}); len(ls) != 0 {
		t.Fatalf("refused creates left %d licenses", len(ls))
	}
}

func TestAuditLogRecordsWhoWhatWhenBeforeAfter(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, _ := e.tree()
	e.device(acme, "acme", "dev-1", "sensor-a")
	l := e.create(dist, std("acme"))
	e.clk.Advance(3600e9)
	e.bind(acme, l.ID, "dev-1")
	entries, _, err := e.lg.ListAudit(ctx, acme, "", 0)
	if err != nil || len(entries) == 0 {
		t.Fatal(err)
	}
	got := entries[0]
	if got.Action != "license.bind" || got.UserID != acme.UserID || got.ObjectID != l.ID || !got.At.Equal(e.clk.Now()) {
		t.Fatalf("newest entry %+v", got)
	}
	var before, after License
	json.Unmarshal(got.Before, &before)
	json.Unmarshal(got.After, &after)
	if before.DeviceID != "" || after.DeviceID != "dev-1" {
		t.Fatalf("before/after %q → %q", before.DeviceID, after.DeviceID)
	}
	// beta sees nothing of acme's history.
	betaEntries, _, _ := e.lg.ListAudit(ctx, admin("beta"), "", 0)
	for _, be := range betaEntries {
		if be.CustomerID != "beta" {
			t.Fatalf("beta sees %+v", be)
		}
	}
}

func TestBothSidesOfAMoveSeeItsRecords(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, beta := e.tree()
	in := std("dist")
	in.Count = 2
	e.lg.CreateLicenses(ctx, e.root, in)
	e.lg.Sell(ctx, dist, BatchInput{CustomerID: "acme", Count: 2})
	ret, err := e.lg.Return(ctx, acme, BatchInput{Count: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []Actor{acme, dist, e.root} {
		sales, _, _ := e.lg.ListSales(ctx, a, SaleFilter{})
		if len(sales) != 2 || sales[0].ID != ret.ID {
			t.Fatalf("%s sees sales %+v", a.CustomerID, sales)
		}
		audit, _, _ := e.lg.ListAudit(ctx, a, "", 2)
		if audit[0].Action != "sale.return" || audit[1].Action != "license.return" {
			t.Fatalf("%s sees audit %s, %s", a.CustomerID, audit[0].Action, audit[1].Action)
		}
	}
	if sales, _, _ := e.lg.ListSales(ctx, beta, SaleFilter{}); len(sales) != 0 {
		t.Fatalf("a sibling sees %+v", sales)
	}
	page1, next, _ := e.lg.ListSales(ctx, dist, SaleFilter{Limit: 1})
	page2, last, _ := e.lg.ListSales(ctx, dist, SaleFilter{Cursor: next, Limit: 1})
	if len(page1) != 1 || len(page2) != 1 || page1[0].ID == page2[0].ID || last != "" {
		t.Fatalf("sales pages %+v / %+v (next %q)", page1, page2, last)
	}
}
