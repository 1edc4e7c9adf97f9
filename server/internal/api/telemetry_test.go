package api

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// TestTelemetryEndpoints: GET /v1/devices/{id}/telemetry lists per hour
// what the broker observed next to what the device reported, and
// GET /v1/telemetry/discrepancies lists the device once its report settled
// the hour; visibility, bad windows and bad parameters are refused.
func TestTelemetryEndpoints(t *testing.T) {
	e := newAPIEnv(t)
	e.world()
	acme, beta := e.key["acme"], e.key["beta"]
	now := e.clk.Now().Unix()
	h := now - now%3600 - 2*3600
	if _, _, err := e.lg.AddObservedCounts(context.Background(), []ledger.ObservedCount{{CustomerID: "acme", DeviceID: "dev-1", Hour: h, Count: 9}}); err != nil {
		t.Fatal(err)
	}
	r := &syncproto.Report{DeviceID: "dev-1", Nonce: "AAAAAAAAAAAAAAAAAAAAAA", SentAt: now, Tokens: []syncproto.TokenVersion{},
		Deductions: []syncproto.Deduction{}, Counts: []syncproto.HourlyCount{{DeviceID: "dev-1", Hour: h, Accepted: 6, Overage: 1}}}
	if _, err := e.lg.Reconcile(context.Background(), "dev-1", r); err != nil {
		t.Fatal(err)
	}

	var v wire.DeviceTelemetry
	e.must(200, "GET", "/v1/devices/dev-1/telemetry", acme, nil, &v)
	want := wire.TelemetryHour{Hour: time.Unix(h, 0).UTC(), Observed: 9, ReportedAccepted: 6, ReportedOverage: 1, Difference: 3, Settled: true}
	if len(v.Hours) != 1 || v.Hours[0] != want || v.Excess != 3 || v.SettledBefore == nil || v.To.Sub(v.From) < 7*24*time.Hour {
		t.Fatalf("device telemetry %+v", v)
	}
	from := time.Unix(h+3600, 0).UTC().Format(time.RFC3339)
	e.must(200, "GET", "/v1/devices/dev-1/telemetry?from="+url.QueryEscape(from), acme, nil, &v)
	if len(v.Hours) != 0 {
		t.Fatalf("from after the hour: %+v", v.Hours)
	}
	e.must(200, "GET", "/v1/devices/dev-1/telemetry?within=3h", acme, nil, &v)
	if len(v.Hours) != 1 {
		t.Fatalf("within 3h: %+v", v.Hours)
	}

	var l wire.TelemetryDiscrepancyList
	e.must(200, "GET", "/v1/telemetry/discrepancies", acme, nil, &l)
	if !l.Complete || l.CustomerID != "acme" || len(l.Devices) != 1 || l.Devices[0].DeviceID != "dev-1" || l.Devices[0].Excess != 3 {
		t.Fatalf("discrepancies %+v", l)
	}
	e.must(200, "GET", "/v1/telemetry/discrepancies?customer=dist&min_excess=3", e.key["dist"], nil, &l)
	if len(l.Devices) != 1 {
		t.Fatalf("dist sees %+v", l)
	}
	e.must(200, "GET", "/v1/telemetry/discrepancies?min_excess=4", acme, nil, &l)
	if len(l.Devices) != 0 {
		t.Fatalf("min_excess 4: %+v", l)
	}
	e.must(200, "GET", "/v1/telemetry/discrepancies", beta, nil, &l)
	if len(l.Devices) != 0 {
		t.Fatalf("beta sees %+v", l)
	}
	tests := []struct {
		name, key, path string
		status          int
		code            string
	}{
		{"error/other-customers-device", beta, "/v1/devices/dev-1/telemetry", 404, "not_found"},
		{"error/other-customer", beta, "/v1/telemetry/discrepancies?customer=acme", 404, "not_found"},
		{"error/bad-from", acme, "/v1/devices/dev-1/telemetry?from=yesterday", 400, "invalid_parameter"},
		{"error/within-and-from", acme, "/v1/devices/dev-1/telemetry?within=1d&from=2026-01-01", 400, "invalid_parameter"},
		{"error/too-long", acme, "/v1/devices/dev-1/telemetry?within=40d", 400, ""},
		{"error/reversed", acme, "/v1/devices/dev-1/telemetry?from=2026-03-02&to=2026-03-01", 400, ""},
		{"error/min-excess", acme, "/v1/telemetry/discrepancies?min_excess=0", 400, "invalid_parameter"},
		{"error/limit", acme, "/v1/telemetry/discrepancies?limit=100000", 400, "invalid_parameter"},
		{"error/no-key", "", "/v1/telemetry/discrepancies", 401, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, raw := e.call("GET", tc.path, tc.key, nil, nil)
			if code != tc.status || tc.code != "" && errCode(raw) != tc.code {
				t.Fatalf("%d %s, want %d %s", code, raw, tc.status, tc.code)
			}
		})
	}
}
