package ctl

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
	"github.com/tollgate-iot/tollgate/shared/token"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// TestTelemetryCommandsAgainstRealServer: device telemetry prints each hour
// with its difference, device discrepancies lists the device whose
// observed count exceeds its report (table and JSON), and bad windows
// exit 1 with the server's code.
func TestTelemetryCommandsAgainstRealServer(t *testing.T) {
	_, lg, clk := realServer(t)
	mustRun(t, "customer", "create", "--id", "acme", "--name", "Acme", "--parent", "root")
	var u wire.CreateUserResponse
	if err := json.Unmarshal([]byte(mustRun(t, "user", "create", "--customer", "acme", "--email", "a@acme.test", "--role", "admin", "-o", "json")), &u); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TOLLGATE_API_KEY", u.APIKey)
	mustRun(t, "device", "create", "--customer", "acme", "--id", "press-1", "--model", "sensor-a", "--public-key",
		token.EncodePublicKey(ed25519.NewKeyFromSeed(make([]byte, 32)).Public().(ed25519.PublicKey)))
	now := clk.Now().Unix()
	h := now - now%3600 - 3600
	if _, _, err := lg.AddObservedCounts(context.Background(), []ledger.ObservedCount{{CustomerID: "acme", DeviceID: "press-1", Hour: h, Count: 12}}); err != nil {
		t.Fatal(err)
	}
	r := &syncproto.Report{DeviceID: "press-1", Nonce: "BBBBBBBBBBBBBBBBBBBBBB", SentAt: now, Tokens: []syncproto.TokenVersion{},
		Deductions: []syncproto.Deduction{}, Counts: []syncproto.HourlyCount{{DeviceID: "press-1", Hour: h, Accepted: 10}}}
	clk.Advance(20 * time.Minute) // the sync comes after the hour and the margin
	if _, err := lg.Reconcile(context.Background(), "press-1", r); err != nil {
		t.Fatal(err)
	}
	out := mustRun(t, "device", "telemetry", "press-1", "--within", "1d")
	if !strings.Contains(out, "OBSERVED") || !strings.Contains(out, "12") || !strings.Contains(out, " 2 ") || !strings.Contains(out, "true") {
		t.Fatalf("device telemetry table:\n%s", out)
	}
	var l wire.TelemetryDiscrepancyList
	if err := json.Unmarshal([]byte(mustRun(t, "device", "discrepancies", "--customer", "acme", "-o", "json")), &l); err != nil {
		t.Fatal(err)
	}
	if len(l.Devices) != 1 || l.Devices[0].DeviceID != "press-1" || l.Devices[0].Excess != 2 || !l.Complete {
		t.Fatalf("discrepancies %+v", l)
	}
	if out := mustRun(t, "device", "discrepancies", "--min-excess", "3"); strings.Contains(out, "press-1") {
		t.Fatalf("min-excess 3 still lists press-1:\n%s", out)
	}
	code, _, errOut := run("device", "telemetry", "press-1", "--from", "nonsense")
	if code != 1 || !strings.HasPrefix(errOut, "error: invalid_parameter: ") {
		t.Fatalf("bad --from: %d %q", code, errOut)
	}
}
