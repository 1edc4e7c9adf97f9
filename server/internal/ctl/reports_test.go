package ctl

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/shared/syncproto"
	"github.com/tollgate-iot/tollgate/shared/token"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// TestReportConsumptionAgainstRealServer: report consumption prints a row
// per device, the customer's and the report's totals and a note for a month
// past the license's retention (table); -o json decodes into the wire
// report; -o csv is the server's CSV with its header; a missing --month is
// a usage error and a sibling's customer not_found.
func TestReportConsumptionAgainstRealServer(t *testing.T) {
	_, lg, clk := realServer(t)
	mustRun(t, "customer", "create", "--id", "acme", "--name", "Acme", "--parent", "root")
	mustRun(t, "customer", "create", "--id", "beta", "--name", "Beta", "--parent", "root")
	var u, ua wire.CreateUserResponse
	if err := json.Unmarshal([]byte(mustRun(t, "user", "create", "--customer", "beta", "--email", "b@beta.test", "--role", "admin", "-o", "json")), &u); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(mustRun(t, "user", "create", "--customer", "acme", "--email", "a@acme.test", "--role", "admin", "-o", "json")), &ua); err != nil {
		t.Fatal(err)
	}
	var ls wire.LicenseList
	if err := json.Unmarshal([]byte(mustRun(t, "license", "create", "--customer", "acme", "--type", "standard", "--billing", "term",
		"--models", "sensor-*", "--max-samples-per-hour", "1000", "--retention-days", "30", "-o", "json")), &ls); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TOLLGATE_API_KEY", ua.APIKey)
	mustRun(t, "device", "create", "--customer", "acme", "--id", "press-1", "--model", "sensor-a", "--public-key",
		token.EncodePublicKey(ed25519.NewKeyFromSeed(make([]byte, 32)).Public().(ed25519.PublicKey)))
	mustRun(t, "license", "bind", ls.Licenses[0].ID, "--device", "press-1")
	may := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC).Unix()
	clk.Set(time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC))
	r := &syncproto.Report{DeviceID: "press-1", Nonce: "CCCCCCCCCCCCCCCCCCCCCC", SentAt: clk.Now().Unix(), Tokens: []syncproto.TokenVersion{},
		Deductions: []syncproto.Deduction{}, Counts: []syncproto.HourlyCount{{DeviceID: "press-1", Hour: may + 5*86400 + 9*3600, Accepted: 2500, Refused: 3,
			RefusedBy: map[string]int64{wire.ReasonOverBudget: 1, wire.ReasonExpired: 1}}}}
	if _, err := lg.Reconcile(context.Background(), "press-1", r); err != nil {
		t.Fatal(err)
	}

	out := mustRun(t, "report", "consumption", "--customer", "acme", "--month", "2026-05")
	for _, want := range []string{"BUDGET_24H", "REFUSED_BY_REASON", "expired=1 over_budget=1 unknown=1", "press-1*", "24000", "2500", "2026-05-06T09:00:00Z", "acme total", "TOTAL 2026-05",
		"* press-1: the month starts before its licenses' retention; hours before 2026-05-11T12:00:00Z may have been pruned"} {
		if !strings.Contains(out, want) {
			t.Fatalf("table lacks %q:\n%s", want, out)
		}
	}
	var rep wire.ConsumptionReport
	if err := json.Unmarshal([]byte(mustRun(t, "report", "consumption", "--customer", "acme", "--month", "2026-05", "-o", "json")), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Customers) != 1 || rep.Totals.Samples != 2500 || rep.Customers[0].Devices[0].Refused.Total != 3 || rep.Customers[0].Devices[0].Refused.ByReason[wire.ReasonExpired] != 1 || rep.Customers[0].Devices[0].RetainedFrom == nil {
		t.Fatalf("json %+v", rep)
	}
	csvOut := mustRun(t, "report", "consumption", "--customer", "acme", "--month", "2026-05", "-o", "csv")
	if lines := strings.Split(strings.TrimSpace(csvOut), "\n"); len(lines) != 4 || lines[0] != strings.Join(wire.ConsumptionCSVHeader, ",") ||
		!strings.HasPrefix(lines[1], "device,acme,press-1,") || !strings.HasPrefix(lines[3], "total,acme,") {
		t.Fatalf("csv:\n%s", csvOut)
	}
	if code, _, errOut := run("report", "consumption", "--customer", "acme"); code != 2 || !strings.Contains(errOut, "--month") {
		t.Fatalf("no --month: %d %q", code, errOut)
	}
	t.Setenv("TOLLGATE_API_KEY", u.APIKey)
	for _, format := range []string{"table", "csv"} {
		if code, _, errOut := run("report", "consumption", "--customer", "acme", "--month", "2026-05", "-o", format); code != 1 || !strings.HasPrefix(errOut, "error: not_found: ") {
			t.Fatalf("beta reading acme (%s): %d %q", format, code, errOut)
		}
	}
}
