package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/tollgate-iot/tollgate/shared/wire"
)

// TestStatsTable reads GET /v1/stats as each caller of the standard world
// (acme: its automatic trial, two standard term licenses of which one is
// bound and active, one device) and checks figures, visibility and
// refused queries.
func TestStatsTable(t *testing.T) {
	e := newAPIEnv(t)
	lic := e.world()
	e.must(200, "POST", "/v1/devices/dev-1/blacklist", e.key["acme"], wire.BlacklistRequest{Reason: "stolen"}, nil)
	// acme's subtree, as acme, its viewer, or its distributor sees it.
	acme := "customer=acme type=map[standard:2 trial:1] billing=map[term:3] status=map[active:1 unused:2] " +
		"kinds=[standard/term/[sensor-*]/1000 unused=1 active=1 total=2; trial/term/[*]/0 unused=1 active=0 total=1] blacklisted=1 offline=0"
	tests := []struct {
		name, key, query string
		status           int
		want             string // figures, or the error code
	}{
		{"own-default", "acme", "", 200, acme},
		{"own-explicit", "acme", "?customer=acme", 200, acme},
		{"viewer", "acme-viewer", "", 200, acme},
		{"operator", "acme-operator", "?customer=acme", 200, acme},
		{"superior", "dist", "?customer=acme", 200, acme},
		{"sibling", "beta", "?customer=acme", 404, "not_found"},
		{"parent-of-own", "acme", "?customer=dist", 404, "not_found"},
		{"unknown-customer", "dist", "?customer=nobody", 404, "not_found"},
		{"bad-id", "acme", "?customer=a%2Fb", 400, "invalid_parameter"},
		{"unknown-parameter", "acme", "?custmer=acme", 400, "invalid_parameter"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, raw := e.call("GET", "/v1/stats"+tc.query, e.key[tc.key], nil, nil)
			if code != tc.status {
				t.Fatalf("%d %s, want %d", code, raw, tc.status)
			}
			got := errCode(raw)
			if code == 200 {
				var st wire.Stats
				dec := json.NewDecoder(bytes.NewReader(raw))
				dec.DisallowUnknownFields()
				if err := dec.Decode(&st); err != nil {
					t.Fatal(err)
				}
				got = statsSummary(st)
			}
			if got != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
	// The vendor's figures cover the whole tree: the bound license is
	// counted once, under its owner.
	var all wire.Stats
	e.must(200, "GET", "/v1/stats", e.key["root"], nil, &all)
	if all.CustomerID == "" || all.ByStatus["active"] != 1 || all.Devices.Blacklisted != 1 || all.DaysLeft.Licenses == nil {
		t.Fatalf("vendor's stats: %+v (bound license %s)", all, lic.ID)
	}
	if code, _ := e.call("POST", "/v1/stats", e.key["acme"], nil, nil); code != 405 {
		t.Fatalf("POST /v1/stats: %d, want 405", code)
	}
}

func statsSummary(st wire.Stats) string {
	kinds := ""
	for i, k := range st.Kinds {
		if i > 0 {
			kinds += "; "
		}
		kinds += fmt.Sprintf("%s/%s/%v/%d unused=%d active=%d total=%d", k.Type, k.Billing, k.Models, k.MaxSamplesPerHour, k.Unused, k.Active, k.Total)
	}
	return fmt.Sprintf("customer=%s type=%v billing=%v status=%v kinds=[%s] blacklisted=%d offline=%d",
		st.CustomerID, st.ByType, st.ByBilling, st.ByStatus, kinds, st.Devices.Blacklisted, st.Devices.Offline)
}
