package api

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/tollgate-iot/tollgate/shared/wire"
)

// licensesOf lists every license of one customer as the vendor sees them.
func (e *apiEnv) licensesOf(customer string) []wire.License {
	e.t.Helper()
	var l wire.LicenseList
	e.must(200, "GET", "/v1/licenses?limit=1000&customer="+customer, e.key["root"], nil, &l)
	return l.Licenses
}

// refused calls and asserts the status and code, and that no change was
// recorded.
func (e *apiEnv) refused(status int, code, method, path, key string, body any) {
	e.t.Helper()
	changes := e.auditCount()
	got, raw := e.call(method, path, key, body, nil)
	if got != status || errCode(raw) != code {
		e.t.Fatalf("%s %s: %d %s, want %d %s", method, path, got, raw, status, code)
	}
	if n := e.auditCount(); n != changes {
		e.t.Fatalf("%s %s was refused but recorded %d changes", method, path, n-changes)
	}
}

// TestEndCustomerCannotMintThroughSubCustomer performs the attack of an end
// customer's admin: create a sub-customer, mint licenses "for" it (allowed
// before, since acme is above acme-1), give it a first user, and have the
// licenses returned up. The sub-customer and its user are legitimate; the
// minting, the top-up and the return are refused and change nothing.
func TestEndCustomerCannotMintThroughSubCustomer(t *testing.T) {
	e := newAPIEnv(t)
	e.world()
	acme := e.key["acme"]
	e.must(201, "POST", "/v1/customers", acme, wire.CreateCustomerRequest{ID: "acme-1", Name: "Acme One", ParentID: "acme"}, nil)
	var u wire.CreateUserResponse
	e.must(201, "POST", "/v1/users", acme, wire.CreateUserRequest{CustomerID: "acme-1", Email: "admin@acme-1.test", Role: "admin"}, &u)
	acme1 := u.APIKey

	e.refused(403, "not_issuer", "POST", "/v1/licenses", acme, wire.CreateLicenseRequest{CustomerID: "acme-1", Type: "standard",
		Billing: "days", Days: 100_000, Models: []string{"*"}, Count: 100})
	e.refused(403, "not_issuer", "POST", "/v1/licenses", acme, wire.CreateLicenseRequest{CustomerID: "acme-1", Type: "trial",
		Billing: "term", Models: []string{"*"}, Count: 100})
	e.refused(403, "forbidden", "POST", "/v1/licenses", acme1, wire.CreateLicenseRequest{CustomerID: "acme-1", Type: "standard",
		Billing: "days", Days: 100_000, Models: []string{"*"}})

	// Days are value too: a day license that came down from the
	// distributor cannot be topped up by the customer below it.
	var ls wire.LicenseList
	e.must(201, "POST", "/v1/licenses", e.key["dist"], wire.CreateLicenseRequest{CustomerID: "acme", Type: "standard",
		Billing: "days", Days: 30, Models: []string{"*"}}, &ls)
	e.must(200, "POST", "/v1/sales/sell", acme, wire.BatchRequest{Customer: "acme-1", IDs: []string{ls.Licenses[0].ID}}, nil)
	e.refused(403, "not_issuer", "POST", "/v1/licenses/"+ls.Licenses[0].ID+"/days", acme, wire.AddDaysRequest{Days: 99_970})

	// All acme-1 holds is its automatic trial and what came down; the
	// trial never goes up.
	got := e.licensesOf("acme-1")
	if len(got) != 2 {
		t.Fatalf("acme-1 holds %d licenses, want its trial and the one sold to it", len(got))
	}
	var trial string
	for _, l := range got {
		if l.Type == "trial" {
			trial = l.ID
			if l.IssuedBy != "" || l.Origin != "acme-1" {
				t.Fatalf("automatic trial issued_by %q origin %q, want none and acme-1", l.IssuedBy, l.Origin)
			}
		}
	}
	e.refused(403, "return_above_origin", "POST", "/v1/sales/return", acme1, wire.BatchRequest{IDs: []string{trial}})
	e.must(200, "POST", "/v1/sales/return", acme1, wire.BatchRequest{IDs: []string{ls.Licenses[0].ID}}, nil)
	if n := len(e.licensesOf("acme-1")); n != 1 {
		t.Fatalf("acme-1 holds %d licenses after returning the bought one, want 1", n)
	}
}

// TestReturnMovesOnlyWhatCameDown returns licenses up the tree: what came
// down from the vendor or the distributor goes back as far as it came
// from; what was created for a customer's own subtree, or given to a
// customer by the system, stops there, even laundered through a transfer.
func TestReturnMovesOnlyWhatCameDown(t *testing.T) {
	e := newAPIEnv(t)
	e.world()
	root, dist, acme := e.key["root"], e.key["dist"], e.key["acme"]
	create := func(key, customer string) string {
		var ls wire.LicenseList
		e.must(201, "POST", "/v1/licenses", key, wire.CreateLicenseRequest{CustomerID: customer, Type: "standard", Billing: "term",
			Models: []string{"*"}}, &ls)
		return ls.Licenses[0].ID
	}
	ret := func(key string, ids ...string) (int, []byte) {
		return e.call("POST", "/v1/sales/return", key, wire.BatchRequest{IDs: ids}, nil)
	}

	// From the vendor, through the distributor's subtree: back to the vendor.
	fromVendor := create(root, "acme")
	if code, raw := ret(acme, fromVendor); code != 200 {
		t.Fatalf("acme returns the vendor's license: %d %s", code, raw)
	}
	if code, raw := ret(dist, fromVendor); code != 200 {
		t.Fatalf("dist returns the vendor's license: %d %s", code, raw)
	}

	// From the distributor: back to the distributor, never above it.
	fromDist := create(dist, "acme")
	if code, raw := ret(acme, fromDist); code != 200 {
		t.Fatalf("acme returns the distributor's license: %d %s", code, raw)
	}
	e.refused(403, "return_above_origin", "POST", "/v1/sales/return", dist, wire.BatchRequest{IDs: []string{fromDist}})

	// A sub-customer's automatic trial, moved up by a transfer its owner
	// consented to, still cannot climb above where it was given.
	e.must(201, "POST", "/v1/customers", acme, wire.CreateCustomerRequest{ID: "acme-1", Name: "Acme One", ParentID: "acme"}, nil)
	var u wire.CreateUserResponse
	e.must(201, "POST", "/v1/users", acme, wire.CreateUserRequest{CustomerID: "acme-1", Email: "admin@acme-1.test", Role: "admin"}, &u)
	e.must(200, "PATCH", "/v1/customers/acme-1", u.APIKey, map[string]any{"allow_superior_manage": true}, nil)
	trial := e.licensesOf("acme-1")[0]
	e.refused(403, "return_above_origin", "POST", "/v1/sales/return", acme, wire.BatchRequest{IDs: []string{trial.ID}})
	var tr wire.TransferResponse
	e.must(200, "POST", "/v1/licenses/"+trial.ID+"/transfer", acme, wire.CustomerRef{To: "acme"}, &tr)
	if tr.New.Origin != "acme" {
		t.Fatalf("transferred trial origin %q, want acme (where acme-1 and acme meet)", tr.New.Origin)
	}
	e.refused(403, "return_above_origin", "POST", "/v1/sales/return", acme, wire.BatchRequest{IDs: []string{tr.New.ID}})

	// By count, a return picks only what may go up: acme holds two trials
	// (its own and the transferred one), neither of which came down.
	e.refused(409, "not_enough_licenses", "POST", "/v1/sales/return", acme, wire.BatchRequest{Count: 1, Type: "trial"})
	var sale wire.Sale
	create(dist, "acme")
	e.must(200, "POST", "/v1/sales/return", acme, wire.BatchRequest{Count: 1}, &sale)
	if len(sale.LicenseIDs) != 1 {
		t.Fatalf("return by count moved %v", sale.LicenseIDs)
	}
	var moved wire.License
	e.must(200, "GET", "/v1/licenses/"+sale.LicenseIDs[0], root, nil, &moved)
	if moved.CustomerID != "dist" || moved.Origin != "dist" {
		t.Fatalf("returned by count: %s of %s, origin %s", moved.ID, moved.CustomerID, moved.Origin)
	}
}

// TestIssuerLimitsRefuseDisallowedDuration holds the distributor to the
// durations and days the vendor allows it; the vendor itself is not bound.
func TestIssuerLimitsRefuseDisallowedDuration(t *testing.T) {
	e := newAPIEnv(t)
	e.world()
	root, dist := e.key["root"], e.key["dist"]
	e.must(200, "PATCH", "/v1/customers/dist", root, wire.UpdateCustomerRequest{AllowedMonths: &[]int{24, 12}, MaxDays: ptr(int64(365))}, nil)
	term := func(months int) wire.CreateLicenseRequest {
		return wire.CreateLicenseRequest{CustomerID: "acme", Type: "standard", Billing: "term", Months: months, Models: []string{"*"}, Count: 10}
	}
	day := func(n int64) wire.CreateLicenseRequest {
		return wire.CreateLicenseRequest{CustomerID: "acme", Type: "standard", Billing: "days", Days: n, Models: []string{"*"}}
	}
	e.refused(403, "issuer_limit", "POST", "/v1/licenses", dist, term(36))
	e.refused(403, "issuer_limit", "POST", "/v1/licenses", dist, term(1))
	e.refused(403, "issuer_limit", "POST", "/v1/licenses", dist, day(366))
	e.must(201, "POST", "/v1/licenses", dist, term(24), nil)
	e.must(201, "POST", "/v1/licenses", dist, term(0), nil) // the default, 12 months
	var ls wire.LicenseList
	e.must(201, "POST", "/v1/licenses", dist, day(365), &ls)
	if l := ls.Licenses[0]; l.IssuedBy != "dist" || l.Origin != "dist" {
		t.Fatalf("license issued_by %q origin %q, want dist", l.IssuedBy, l.Origin)
	}
	e.refused(403, "issuer_limit", "POST", "/v1/licenses/"+ls.Licenses[0].ID+"/days", dist, wire.AddDaysRequest{Days: 1})
	e.must(201, "POST", "/v1/licenses", root, term(36), nil)
	e.must(200, "POST", "/v1/licenses/"+ls.Licenses[0].ID+"/days", root, wire.AddDaysRequest{Days: 1000}, nil)

	// Withdrawn, the right is gone, limits and all.
	e.must(200, "PATCH", "/v1/customers/dist", root, wire.UpdateCustomerRequest{Issuer: ptr(false)}, nil)
	e.refused(403, "not_issuer", "POST", "/v1/licenses", dist, term(12))
}

// TestOnlyVendorGrantsIssuerRight has a hostile distributor admin and its
// customer try to grant themselves the right or lift its limits.
func TestOnlyVendorGrantsIssuerRight(t *testing.T) {
	e := newAPIEnv(t)
	e.world()
	root, dist, acme := e.key["root"], e.key["dist"], e.key["acme"]
	e.must(200, "PATCH", "/v1/customers/dist", root, wire.UpdateCustomerRequest{AllowedMonths: &[]int{12}, MaxDays: ptr(int64(30))}, nil)
	// acme lets its superiors manage it: consent to management is not a
	// grant of the issuer right.
	e.must(200, "PATCH", "/v1/customers/acme", acme, map[string]any{"allow_superior_manage": true}, nil)
	for _, tc := range []struct {
		name, key, customer string
		body                map[string]any
	}{
		{"distributor/lifts-own-limits", dist, "dist", map[string]any{"allowed_months": []int{}, "max_days": 0}},
		{"distributor/grants-customer", dist, "acme", map[string]any{"issuer": true}},
		{"distributor/grants-customer-with-consent", dist, "acme", map[string]any{"issuer": true, "name": "Acme"}},
		{"customer/grants-itself", acme, "acme", map[string]any{"issuer": true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			e.refused(403, "forbidden", "PATCH", "/v1/customers/"+tc.customer, tc.key, tc.body)
		})
	}
	e.t = t
	var c wire.Customer
	e.must(200, "GET", "/v1/customers/acme", root, nil, &c)
	if c.Issuer || c.IssuerLimits != nil {
		t.Fatalf("acme after the attempts: issuer %v limits %+v", c.Issuer, c.IssuerLimits)
	}
	// The limits still hold, and acme still mints nothing.
	e.refused(403, "issuer_limit", "POST", "/v1/licenses", dist, wire.CreateLicenseRequest{CustomerID: "acme", Type: "standard",
		Billing: "term", Months: 60, Models: []string{"*"}})
	e.must(201, "POST", "/v1/customers", acme, wire.CreateCustomerRequest{ID: "acme-1", Name: "Acme One", ParentID: "acme"}, nil)
	e.refused(403, "not_issuer", "POST", "/v1/licenses", acme, wire.CreateLicenseRequest{CustomerID: "acme-1", Type: "standard",
		Billing: "term", Months: 12, Models: []string{"*"}})
}

// TestIssuerRightVisibleAndAudited shows the right to the customer and its
// superiors only, and records every change with before and after.
func TestIssuerRightVisibleAndAudited(t *testing.T) {
	e := newAPIEnv(t)
	e.world()
	root := e.key["root"]
	e.must(200, "PATCH", "/v1/customers/dist", root, wire.UpdateCustomerRequest{AllowedMonths: &[]int{24, 12, 12}, MaxDays: ptr(int64(365))}, nil)
	for _, who := range []string{"root", "dist"} {
		var c wire.Customer
		e.must(200, "GET", "/v1/customers/dist", e.key[who], nil, &c)
		if !c.Issuer || c.IssuerLimits == nil || !slices.Equal(c.IssuerLimits.AllowedMonths, []int{12, 24}) || c.IssuerLimits.MaxDays != 365 {
			t.Fatalf("%s sees dist as issuer %v limits %+v", who, c.Issuer, c.IssuerLimits)
		}
	}
	e.refused(404, "not_found", "GET", "/v1/customers/dist", e.key["acme"], nil)
	var c wire.Customer
	e.must(200, "GET", "/v1/customers/acme", e.key["acme"], nil, &c)
	if c.Issuer || c.IssuerLimits != nil {
		t.Fatalf("acme sees itself as issuer %v limits %+v", c.Issuer, c.IssuerLimits)
	}
	e.must(200, "GET", "/v1/customers/root", root, nil, &c)
	if !c.Issuer {
		t.Fatal("the vendor root does not show as an issuer")
	}

	var audit wire.AuditList
	e.must(200, "GET", "/v1/audit?limit=1", e.key["dist"], nil, &audit)
	if len(audit.Entries) != 1 {
		t.Fatal("dist sees no audit entry")
	}
	a := audit.Entries[0]
	var before, after wire.Customer
	if err := json.Unmarshal(a.Before, &before); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(a.After, &after); err != nil {
		t.Fatal(err)
	}
	if a.Action != "customer.issuer" || a.ObjectID != "dist" || a.ActorOf != "root" ||
		!before.Issuer || after.IssuerLimits == nil || after.IssuerLimits.MaxDays != 365 {
		t.Fatalf("audit entry %+v\nbefore %s\nafter %s", a, a.Before, a.After)
	}
	e.must(200, "GET", "/v1/audit?limit=1", e.key["beta"], nil, &audit)
	if len(audit.Entries) == 1 && audit.Entries[0].Action == "customer.issuer" {
		t.Fatalf("beta sees dist's issuer change: %+v", audit.Entries[0])
	}
}
