package api

import (
	"net/url"
	"slices"
	"testing"

	"github.com/tollgate-iot/tollgate/shared/wire"
)

// TestLicenseListQueryFilters checks that serial_prefix and locked reach the
// ledger through GET /v1/licenses.
func TestLicenseListQueryFilters(t *testing.T) {
	e := newAPIEnv(t)
	e.world()
	var trials wire.LicenseList
	e.must(200, "GET", "/v1/licenses?customer=acme&type=trial", e.key["acme"], nil, &trials)
	if len(trials.Licenses) != 1 {
		t.Fatalf("acme has %d trials, want 1", len(trials.Licenses))
	}
	serial := trials.Licenses[0].Serial
	for _, tc := range []struct {
		query string
		want  int
	}{
		{"customer=acme&type=trial&locked=false", 1},
		{"customer=acme&type=trial&locked=true", 0},
		{"customer=acme&serial_prefix=" + url.QueryEscape(serial), 1},
		{"customer=acme&serial_prefix=" + url.QueryEscape(serial) + "&locked=true", 0},
		{"customer=acme&type=trial&days_min=1", 0},
	} {
		var got wire.LicenseList
		e.must(200, "GET", "/v1/licenses?"+tc.query, e.key["acme"], nil, &got)
		if len(got.Licenses) != tc.want {
			t.Fatalf("%s: got %d licenses, want %d", tc.query, len(got.Licenses), tc.want)
		}
	}
}

// TestLicenseListDescriptionAndActivationFilters: the world's two
// licenses carry the distributor's PO; one is bound (activated). The
// customer below cannot find them by the PO it may not read.
func TestLicenseListDescriptionAndActivationFilters(t *testing.T) {
	e := newAPIEnv(t)
	bound := e.world()
	for _, tc := range []struct {
		who, query string
		want       int
	}{
		{"dist", "description=po-4711", 2},
		{"acme", "description=PO-4711", 0},
		{"beta", "description=po", 0},
		{"dist", "activated_from=2000-01-01", 1},
		{"dist", "activated_from=2000-01-01T00:00:00Z&activated_to=2001-01-01", 0},
		{"dist", "ends_from=2000-01-01", 2},
		{"acme", "device=dev-1", 1},
	} {
		var got wire.LicenseList
		e.must(200, "GET", "/v1/licenses?"+tc.query, e.key[tc.who], nil, &got)
		if len(got.Licenses) != tc.want {
			t.Fatalf("%s %s: got %d licenses, want %d", tc.who, tc.query, len(got.Licenses), tc.want)
		}
		if tc.query == "activated_from=2000-01-01" && got.Licenses[0].ID != bound.ID {
			t.Fatalf("activated: got %s, want the bound %s", got.Licenses[0].ID, bound.ID)
		}
	}
}

// TestSalesListFilters sells one of two licenses and returns it: the
// method, license and date filters of GET /v1/sales pick the records.
func TestSalesListFilters(t *testing.T) {
	e := newAPIEnv(t)
	e.world()
	var ls wire.LicenseList
	e.must(201, "POST", "/v1/licenses", e.key["root"], wire.CreateLicenseRequest{CustomerID: "dist", Type: "standard", Billing: "term",
		Models: []string{"sensor-*"}, Count: 2}, &ls)
	a, b := ls.Licenses[0].ID, ls.Licenses[1].ID
	e.must(200, "POST", "/v1/sales/sell", e.key["dist"], wire.BatchRequest{Customer: "beta", IDs: []string{a, b}}, nil)
	e.must(200, "POST", "/v1/sales/return", e.key["beta"], wire.BatchRequest{IDs: []string{b}}, nil)
	for _, tc := range []struct {
		who, query string
		want       []string // kinds, newest first
	}{
		{"dist", "", []string{"return", "sell"}},
		{"dist", "method=sell", []string{"sell"}},
		{"beta", "license=" + b, []string{"return", "sell"}},
		{"beta", "license=" + a + "&method=return", nil},
		{"acme", "license=" + a, nil},
		{"dist", "from=2000-01-01&to=2001-01-01", nil},
	} {
		var got wire.SaleList
		e.must(200, "GET", "/v1/sales?"+tc.query, e.key[tc.who], nil, &got)
		var kinds []string
		for _, s := range got.Sales {
			kinds = append(kinds, s.Kind)
		}
		if !slices.Equal(kinds, tc.want) {
			t.Fatalf("%s %s: got %v, want %v", tc.who, tc.query, kinds, tc.want)
		}
	}
}
