package ledger

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/store"
)

var march = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func createdIDs(t *testing.T, e *env, a Actor, q CreatedQuery) []string {
	t.Helper()
	rows, _, err := e.lg.ReportCreated(ctx, a, q)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range rows {
		ids = append(ids, r.LicenseID)
	}
	return ids
}

// TestCreatedReportIsTheDistributorsPurchaseOrder: in March (the epoch is
// the 14th) the distributor creates two term licenses for acme on its PO
// and a 5-day license for beta, the vendor one for the distributor; in
// April the distributor creates one more. The distributor's March report
// lists its three in order of creation with its PO; the vendor's own
// report adds its license to them; acme can neither read the
// distributor's report nor learn the PO.
func TestCreatedReportIsTheDistributorsPurchaseOrder(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, _ := e.tree()
	po := std("acme")
	po.Count, po.DistributorDescription = 2, "PO-2026-031"
	first, err := e.lg.CreateLicenses(ctx, dist, po)
	if err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(time.Hour)
	five := e.create(dist, days("beta", 5))
	e.clk.Advance(time.Hour)
	vendors := e.create(e.root, std("dist"))
	e.clk.Advance(20 * Day) // April 3rd
	april := e.create(dist, std("acme"))
	if _, err := e.lg.AddDays(ctx, dist, five.ID, 10); err != nil {
		t.Fatal(err)
	}

	want := []string{first[0].ID, first[1].ID, five.ID}
	got := createdIDs(t, e, dist, CreatedQuery{Month: march})
	if !slices.Equal(sorted(got[:2]), sorted(want[:2])) || got[2] != five.ID || len(got) != 3 {
		t.Fatalf("distributor's March = %v, want %v", got, want)
	}
	rows, _, _ := e.lg.ReportCreated(ctx, dist, CreatedQuery{Month: march})
	if r := rows[0]; r.DistributorDescription != "PO-2026-031" || r.IssuedBy != "dist" || r.CreatedFor != "acme" || r.CreatedBy != dist.UserID {
		t.Fatalf("row %+v", r)
	}
	if r := rows[2]; r.Days != 5 || r.Billing != "days" || r.CreatedFor != "beta" {
		t.Fatalf("the day license's row says %d days (a top-up is not part of the purchase): %+v", r.Days, r)
	}
	if got := createdIDs(t, e, e.root, CreatedQuery{Customer: "dist", Month: march}); len(got) != 3 {
		t.Fatalf("vendor reading the distributor's March: %v", got)
	}
	if got := createdIDs(t, e, e.root, CreatedQuery{Month: march}); len(got) != 4 || !slices.Contains(got, vendors.ID) {
		t.Fatalf("vendor's own March (its license and the distributor's): %v", got)
	}
	if got := createdIDs(t, e, dist, CreatedQuery{Month: march.AddDate(0, 1, 0)}); !slices.Equal(got, []string{april.ID}) {
		t.Fatalf("distributor's April = %v, want [%s]", got, april.ID)
	}
	if _, _, err := e.lg.ReportCreated(ctx, acme, CreatedQuery{Customer: "dist", Month: march}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("acme reading the distributor's report: %v, want not found", err)
	}
	if got := createdIDs(t, e, acme, CreatedQuery{Month: march}); len(got) != 0 {
		t.Fatalf("acme created nothing, its report lists %v", got)
	}
	if _, _, err := e.lg.ReportCreated(ctx, dist, CreatedQuery{Month: march.Add(time.Hour)}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a month not at its first instant: %v", err)
	}

	// Pages of one, and a license deleted since (never activated) is left out.
	p1, next, _ := e.lg.ReportCreated(ctx, dist, CreatedQuery{Month: march, Limit: 2})
	p2, last, _ := e.lg.ReportCreated(ctx, dist, CreatedQuery{Month: march, Limit: 2, Cursor: next})
	if len(p1) != 2 || len(p2) != 1 || p2[0].LicenseID != five.ID || last != "" {
		t.Fatalf("pages %d + %d (next %q, last %q)", len(p1), len(p2), next, last)
	}
	if err := e.lg.DeleteLicense(ctx, dist, first[0].ID); err != nil {
		t.Fatal(err)
	}
	if got := createdIDs(t, e, dist, CreatedQuery{Month: march}); len(got) != 2 || slices.Contains(got, first[0].ID) {
		t.Fatalf("after deleting %s: %v", first[0].ID, got)
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// TestCreatedIndexSeededOnceForAnOlderStore: a store whose licenses
// predate the issued index gets them indexed at open, with the customer
// each was created for taken from its history (not its owner now).
func TestCreatedIndexSeededOnceForAnOlderStore(t *testing.T) {
	r := newReopenable(t)
	e := r.e
	dist, acme, _, _ := e.tree()
	sold := e.create(dist, std("acme"))
	// Created for acme, then returned up to dist: created_for stays acme.
	if _, err := e.lg.Return(ctx, acme, BatchInput{IDs: []string{sold.ID}}); err != nil {
		t.Fatal(err)
	}
	err := r.db.Update(func(x *store.Txn) error {
		var ks [][]byte
		if err := x.Scan([]byte("li/"), nil, false, func(k, _ []byte) (bool, error) {
			ks = append(ks, append([]byte{}, k...))
			return true, nil
		}); err != nil {
			return err
		}
		if len(ks) == 0 {
			t.Fatal("no issued index entries to remove")
		}
		for _, k := range ks {
			if err := x.Delete(k); err != nil {
				return err
			}
		}
		return x.Delete(store.IssuedSeededKey())
	})
	if err != nil {
		t.Fatal(err)
	}
	r.reopen()
	rows, _, err := e.lg.ReportCreated(ctx, dist, CreatedQuery{Month: march})
	if err != nil || len(rows) != 1 || rows[0].LicenseID != sold.ID || rows[0].CreatedFor != "acme" || rows[0].CustomerID != "dist" {
		t.Fatalf("after seeding: %+v, %v", rows, err)
	}
}
