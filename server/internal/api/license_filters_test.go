package api

import (
	"net/url"
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
