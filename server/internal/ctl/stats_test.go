package ctl

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/shared/wire"
)

var statsDoc = wire.Stats{CustomerID: "acme", At: time.Date(2026, 4, 3, 10, 0, 0, 0, time.UTC),
	ByType: map[string]int64{"standard": 3, "trial": 1}, ByBilling: map[string]int64{"term": 2, "days": 2},
	ByStatus: map[string]int64{"active": 1, "unused": 2, "expired": 1},
	Kinds: []wire.StatsKind{
		{Type: "standard", Billing: "days", Models: []string{"sensor-1", "sensor-2"}, Unused: 1, Expired: 1, Total: 2},
		{Type: "standard", Billing: "term", Models: []string{"sensor-*"}, MaxSamplesPerHour: 1000, Active: 1, Total: 1},
		{Type: "trial", Billing: "term", Models: []string{"*"}, Unused: 1, Total: 1}},
	DaysLeft: wire.StatsDaysLeft{Under30: 1, Under7: 1, Licenses: []wire.StatsExpiring{{LicenseID: "L9", Serial: "TG-AAAA-BBBB",
		CustomerID: "acme-sub", Billing: "days", DaysLeft: 5, End: time.Date(2026, 4, 8, 10, 0, 0, 0, time.UTC)}}},
	Devices: wire.StatsDevices{Blacklisted: 2, Offline: 3}}

// TestStatsOutputFormats runs tollgatectl stats against a server that
// answers statsDoc and checks the request and each output format.
func TestStatsOutputFormats(t *testing.T) {
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Method+" "+r.URL.RequestURI())
		json.NewEncoder(w).Encode(statsDoc)
	}))
	t.Cleanup(srv.Close)
	t.Setenv("TOLLGATE_SERVER", srv.URL)
	t.Setenv("TOLLGATE_API_KEY", "tgk_test")

	code, out, errs := run("stats", "--customer", "acme", "-o", "csv")
	if code != 0 || seen[0] != "GET /v1/stats?customer=acme" {
		t.Fatalf("csv: exit %d, %s, requests %q", code, errs, seen)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if lines[0] != "figure,type,billing,models,max_samples_per_hour,status,serial,customer,days_left,end,count" {
		t.Errorf("csv header %q", lines[0])
	}
	for _, want := range []string{
		"by_type,standard,,,,,,,,,3",
		"by_billing,,days,,,,,,,,2",
		"by_status,,,,,expired,,,,,1",
		`kind,standard,days,"sensor-1,sensor-2",0,unused,,,,,1`,
		`kind,standard,days,"sensor-1,sensor-2",0,expired,,,,,1`,
		`kind,standard,days,"sensor-1,sensor-2",0,total,,,,,2`,
		"kind,standard,term,sensor-*,1000,active,,,,,1",
		"kind,trial,term,*,0,pending_start,,,,,0",
		"days_left_under_30,,,,,,,,,,1",
		"days_left_under_7,,,,,,,,,,1",
		"days_left,,days,,,,TG-AAAA-BBBB,acme-sub,5,2026-04-08T10:00:00Z,1",
		"devices_blacklisted,,,,,,,,,,2",
		"devices_offline,,,,,,,,,,3",
	} {
		if !strings.Contains(out+"\n", want+"\n") {
			t.Errorf("csv lacks row %q:\n%s", want, out)
		}
	}
	if got, want := len(lines), 1+2+2+3+3*10+2+1+2; got != want {
		t.Errorf("csv has %d lines, want %d", got, want)
	}

	code, out, _ = run("stats", "-o", "json")
	var back wire.Stats
	if code != 0 || seen[1] != "GET /v1/stats" || json.Unmarshal([]byte(out), &back) != nil ||
		back.DaysLeft.Licenses[0].Serial != "TG-AAAA-BBBB" || back.Kinds[1].Active != 1 {
		t.Fatalf("json: exit %d, request %q, output %s", code, seen[1], out)
	}

	code, out, _ = run("stats")
	if code != 0 {
		t.Fatalf("table: exit %d", code)
	}
	for _, want := range []string{"CUSTOMER  acme", "UNUSED", "PENDING_START", "TRANSFERRED", "TOTAL",
		"standard  days     sensor-1,sensor-2  0", "TG-AAAA-BBBB", "UNDER 30", "BLACKLISTED  2", "OFFLINE  3"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}
