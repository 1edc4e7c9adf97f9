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

// TestTelemetryAndSyncOfFastClockDevice: a device whose clock ran 3 days
// ahead synced 120 accepted samples of its own (future) hours; the broker
// observed 150 in the server's hour. device telemetry prints a note saying
// the clocks differ and one row of totals (no per-hour negative
// differences); device sync prints the note and counts its last 24 h by
// receipt, not 0; -o json carries compared, windows_by and the clock.
func TestTelemetryAndSyncOfFastClockDevice(t *testing.T) {
	_, lg, clk := realServer(t)
	mustRun(t, "customer", "create", "--id", "acme", "--name", "Acme", "--parent", "root")
	var u wire.CreateUserResponse
	if err := json.Unmarshal([]byte(mustRun(t, "user", "create", "--customer", "acme", "--email", "a@acme.test", "--role", "admin", "-o", "json")), &u); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TOLLGATE_API_KEY", u.APIKey)
	mustRun(t, "device", "create", "--customer", "acme", "--id", "press-2", "--model", "sensor-a", "--public-key",
		token.EncodePublicKey(ed25519.NewKeyFromSeed(make([]byte, 32)).Public().(ed25519.PublicKey)))
	now := clk.Now().Unix()
	ahead := now + 3*24*3600
	dh := ahead - ahead%3600 - 3600
	if _, _, err := lg.AddObservedCounts(context.Background(), []ledger.ObservedCount{{CustomerID: "acme", DeviceID: "press-2", Hour: now - now%3600, Count: 150}}); err != nil {
		t.Fatal(err)
	}
	r := &syncproto.Report{DeviceID: "press-2", Nonce: "CCCCCCCCCCCCCCCCCCCCCC", SentAt: ahead, SentWall: now, Tokens: []syncproto.TokenVersion{},
		Deductions: []syncproto.Deduction{}, Counts: []syncproto.HourlyCount{{DeviceID: "press-2", Hour: dh, Accepted: 60}, {DeviceID: "press-2", Hour: dh + 3600, Accepted: 60}}}
	if _, err := lg.Reconcile(context.Background(), "press-2", r); err != nil {
		t.Fatal(err)
	}
	clk.Advance(5 * time.Minute) // the default window (up to now) holds the hour
	out := mustRun(t, "device", "telemetry", "press-2")
	if !strings.Contains(out, "note: device clock runs ahead of server time by 3d0h") || !strings.Contains(out, "compared as totals since") ||
		!strings.Contains(out, "REPORTED_ACCEPTED_RECEIVED") || strings.Contains(out, "-30") || !strings.Contains(out, "150") {
		t.Fatalf("device telemetry of a fast-clock device:\n%s", out)
	}
	var v wire.DeviceTelemetry
	if err := json.Unmarshal([]byte(mustRun(t, "device", "telemetry", "press-2", "-o", "json")), &v); err != nil {
		t.Fatal(err)
	}
	if v.Compared != "totals" || len(v.Hours) != 0 || v.Observed != 150 || v.ReportedAccepted != 120 || v.Clock == nil || !v.Clock.Off ||
		v.Clock.OffsetSeconds != 3*24*3600 || v.Clock.Note == "" {
		t.Fatalf("json %+v clock %+v", v, v.Clock)
	}
	out = mustRun(t, "device", "sync", "press-2")
	if !strings.Contains(out, "note: device clock runs ahead of server time by 3d0h") || !strings.Contains(out, " 120 ") {
		t.Fatalf("device sync of a fast-clock device:\n%s", out)
	}
	var s wire.DeviceSync
	if err := json.Unmarshal([]byte(mustRun(t, "device", "sync", "press-2", "-o", "json")), &s); err != nil {
		t.Fatal(err)
	}
	if s.WindowsBy != "server_receipt" || s.Last24h.Accepted != 120 || s.Last7d.Accepted != 120 || len(s.Hourly) != 2 || s.Clock == nil || !s.Clock.Off {
		t.Fatalf("device sync json %+v", s)
	}
}
