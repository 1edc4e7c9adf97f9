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

// TestHistoryAndReportsCSV checks each command's request and that its CSV
// output starts with the documented header row, then one row per record.
func TestHistoryAndReportsCSV(t *testing.T) {
	at := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	end := at.AddDate(0, 1, 0)
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.URL.RequestURI())
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.HasSuffix(r.URL.Path, "/history"):
			json.NewEncoder(w).Encode(wire.HistoryList{LicenseID: "L1", Entries: []wire.HistoryEntry{{Seq: 7, At: at, Kind: "owner",
				From: "dist", To: "acme", Status: "unused", CustomerID: "acme", By: "user", UserID: "u1", ActorOf: "dist", Action: "license.sell"}}})
		case strings.HasSuffix(r.URL.Path, "/notices"):
			json.NewEncoder(w).Encode(wire.NoticeList{Notices: []wire.Notice{{ID: "ntc_1", LicenseID: "L1", Kind: "expiring_7d", End: end,
				DueAt: end.AddDate(0, 0, -7), IssuedAt: end.AddDate(0, 0, -7), Collapsed: []string{"expiring_30d", "expiring_15d"},
				Email: wire.NoticeEmail{State: "sent", To: []string{"billing@acme.test"}, Attempts: 1}}}})
		case r.URL.Path == "/v1/reports/renewals":
			json.NewEncoder(w).Encode(wire.RenewalReport{Renewals: []wire.Renewal{{LicenseID: "L1", Serial: "S1", CustomerID: "acme",
				Chain: []string{"acme", "dist"}, Months: 1, PeriodStart: at, PeriodEnd: end, RecordedAt: at}}})
		case r.URL.Path == "/v1/reports/created":
			json.NewEncoder(w).Encode(wire.CreatedReport{Licenses: []wire.CreatedLicense{{LicenseID: "L1", Serial: "S1",
				CreatedAt: time.Date(2026, 5, 3, 9, 0, 0, 0, time.UTC), IssuedBy: "dist", CreatedFor: "acme", Type: "standard", Billing: "term",
				Months: 12, MaxSamplesPerHour: 1000, CustomerID: "acme", Status: "active", DistributorDescription: "PO 7"}}})
		case r.URL.Path == "/v1/reports/active":
			json.NewEncoder(w).Encode(wire.ActiveReport{Licenses: []wire.ActiveLicense{{LicenseID: "L1", Serial: "S1", CustomerID: "acme",
				Chain: []string{"acme", "dist"}, Type: "standard", Billing: "term", DeviceID: "dev-1"}}})
		}
	}))
	t.Cleanup(srv.Close)
	t.Setenv("TOLLGATE_SERVER", srv.URL)
	t.Setenv("TOLLGATE_API_KEY", "tgk_test")
	tests := []struct {
		args     []string
		req      string
		header   string
		firstRow string
	}{
		{[]string{"license", "history", "L1", "-o", "csv"}, "/v1/licenses/L1/history",
			"SEQ,AT,KIND,FROM,TO,PERIOD_START,PERIOD_END,DAYS_ADDED,STATUS,CUSTOMER,DEVICE,BY,USER,ACTOR_OF,ACTION",
			"7,2026-05-01T00:00:00Z,owner,dist,acme,-,-,-,unused,acme,-,user,u1,dist,license.sell"},
		{[]string{"license", "notices", "L1", "-o", "csv"}, "/v1/licenses/L1/notices",
			"ISSUED_AT,KIND,END,DUE_AT,EMAIL,ATTEMPTS,TO,COLLAPSED,ID",
			"2026-05-25T00:00:00Z,expiring_7d,2026-06-01T00:00:00Z,2026-05-25T00:00:00Z,sent,1,billing@acme.test,expiring_30d expiring_15d,ntc_1"},
		{[]string{"report", "renewals", "--from", "2026-05-01", "--to", "2026-06-01", "--customer", "acme", "-o", "csv"},
			"/v1/reports/renewals?customer=acme&from=2026-05-01&to=2026-06-01",
			"LICENSE,SERIAL,CUSTOMER,CHAIN,MONTHS,PERIOD_START,PERIOD_END,RECORDED_AT,DISTRIBUTOR_DESCRIPTION",
			"L1,S1,acme,acme>dist,1,2026-05-01T00:00:00Z,2026-06-01T00:00:00Z,2026-05-01T00:00:00Z,-"},
		{[]string{"report", "active", "--reseller", "dist", "--day", "2026-05-01", "-o", "csv"},
			"/v1/reports/active?day=2026-05-01&reseller=dist",
			"LICENSE,SERIAL,CUSTOMER,CHAIN,TYPE,BILLING,DEVICE,DISTRIBUTOR_DESCRIPTION",
			"L1,S1,acme,acme>dist,standard,term,dev-1,-"},
		{[]string{"report", "created", "--month", "2026-05", "--customer", "dist", "-o", "csv"},
			"/v1/reports/created?customer=dist&month=2026-05",
			"CREATED_AT,LICENSE,SERIAL,ISSUED_BY,CREATED_FOR,TYPE,BILLING,MONTHS,DAYS,RATE,STATUS,OWNER,DISTRIBUTOR_DESCRIPTION",
			"2026-05-03T09:00:00Z,L1,S1,dist,acme,standard,term,12,0,1000,active,acme,PO 7"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args[:2], "-"), func(t *testing.T) {
			seen = nil
			code, out, errOut := run(tc.args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if len(seen) != 1 || seen[0] != tc.req {
				t.Fatalf("requests %q, want %q", seen, tc.req)
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if len(lines) != 2 || lines[0] != tc.header || lines[1] != tc.firstRow {
				t.Fatalf("csv =\n%s\nwant\n%s\n%s", out, tc.header, tc.firstRow)
			}
		})
	}
}
