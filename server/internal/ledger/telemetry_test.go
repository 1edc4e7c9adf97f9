package ledger

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/shared/syncproto"
)

// report reconciles hourly counts for dev as its sync would.
func (e *env) report(dev string, counts ...syncproto.HourlyCount) {
	e.t.Helper()
	r := &syncproto.Report{DeviceID: dev, Nonce: fmt.Sprintf("%022d", e.clk.Now().UnixNano()%1e15), SentAt: e.clk.Now().Unix(),
		Tokens: []syncproto.TokenVersion{}, Deductions: []syncproto.Deduction{}, Counts: counts}
	if _, err := e.lg.Reconcile(ctx, dev, r); err != nil {
		e.t.Fatalf("Reconcile %s: %v", dev, err)
	}
}

// TestObservedCountsNextToReported: observed counts add up across flushes;
// the per-device view pairs them with the reported counts hour by hour, an
// hour is settled once a sync came after it (a child's by its gateway's
// sync); the discrepancy list shows devices whose settled observed hours
// exceed what they reported, within the customer's subtree only; counts
// for unknown devices or under another customer's topic are skipped.
func TestObservedCountsNextToReported(t *testing.T) {
	e := newEnv(t)
	_, acme, _, _ := e.tree()
	e.device(acme, "acme", "dev-1", "sensor-a")
	e.device(acme, "acme", "dev-2", "sensor-a")
	e.device(acme, "acme", "gw-1", "sensor-gw")
	e.mustChild(acme, "acme", "c-1", "gw-1")
	h0 := e.clk.Now().Unix() - e.clk.Now().Unix()%3600 - 3*3600 // three hours ago
	h1, h2 := h0+3600, h0+2*3600

	kept, skipped, err := e.lg.AddObservedCounts(ctx, []ObservedCount{
		{"acme", "dev-1", h0, 10}, {"acme", "dev-1", h1, 4}, {"acme", "dev-2", h0, 5}, {"acme", "c-1", h0, 7},
		{"beta", "dev-1", h0, 100}, {"acme", "ghost", h0, 1}, {"acme", "dev-1", h0 + 1, 1}, {"acme", "dev-1", h0, 0},
	})
	if err != nil || kept != 4 || skipped != 4 {
		t.Fatalf("AddObservedCounts: kept %d, skipped %d, %v", kept, skipped, err)
	}
	if _, _, err := e.lg.AddObservedCounts(ctx, []ObservedCount{{"acme", "dev-1", h0, 2}, {"acme", "dev-1", h2, 3}}); err != nil {
		t.Fatal(err)
	}
	w := TelemetryWindow{From: time.Unix(h0-24*3600, 0), To: e.clk.Now()}

	// Before any sync nothing is settled: no discrepancy yet.
	v, err := e.lg.DeviceTelemetry(ctx, acme, "dev-1", w)
	if err != nil || len(v.Hours) != 3 || v.Hours[0].Observed != 12 || v.Hours[0].Settled || v.Excess != 0 || v.Observed != 19 {
		t.Fatalf("before sync: %+v, %v", v, err)
	}
	if l, _, err := e.lg.TelemetryDiscrepancies(ctx, acme, DiscrepancyQuery{Window: w}); err != nil || len(l) != 0 {
		t.Fatalf("discrepancies before any sync: %+v, %v", l, err)
	}

	// dev-1 reports 12 in h0 and 1 in h1 (it sent 4), dev-2 all 5, gw-1
	// reports its child's 6 of 7 in h0.
	e.report("dev-1", syncproto.HourlyCount{DeviceID: "dev-1", Hour: h0, Accepted: 12}, syncproto.HourlyCount{DeviceID: "dev-1", Hour: h1, Accepted: 1})
	e.report("dev-2", syncproto.HourlyCount{DeviceID: "dev-2", Hour: h0, Accepted: 5})
	e.report("gw-1", syncproto.HourlyCount{DeviceID: "c-1", Hour: h0, Accepted: 6})

	v, err = e.lg.DeviceTelemetry(ctx, acme, "dev-1", w)
	if err != nil {
		t.Fatal(err)
	}
	want := []TelemetryHour{{Hour: h0, Observed: 12, Accepted: 12, Settled: true}, {Hour: h1, Observed: 4, Accepted: 1, Settled: true},
		{Hour: h2, Observed: 3, Settled: false}}
	if fmt.Sprint(v.Hours) != fmt.Sprint(want) || v.Excess != 3 || v.Hours[1].Difference() != 3 {
		t.Fatalf("dev-1 hours %+v excess %d; want %+v, excess 3", v.Hours, v.Excess, want)
	}
	l, complete, err := e.lg.TelemetryDiscrepancies(ctx, acme, DiscrepancyQuery{Window: w})
	if err != nil || !complete || len(l) != 2 || l[0].DeviceID != "dev-1" || l[0].Excess != 3 || l[0].Hours != 1 ||
		l[1].DeviceID != "c-1" || l[1].Excess != 1 {
		t.Fatalf("discrepancies %+v, %v, %v; want dev-1 (3) then c-1 (1)", l, complete, err)
	}
	if l, _, _ := e.lg.TelemetryDiscrepancies(ctx, acme, DiscrepancyQuery{Window: w, MinExcess: 2}); len(l) != 1 {
		t.Fatalf("min excess 2: %+v", l)
	}
	if l, _, err := e.lg.TelemetryDiscrepancies(ctx, admin("beta"), DiscrepancyQuery{Window: w}); err != nil || len(l) != 0 {
		t.Fatalf("beta sees %+v, %v", l, err)
	}
	if _, _, err := e.lg.TelemetryDiscrepancies(ctx, admin("beta"), DiscrepancyQuery{CustomerID: "acme", Window: w}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("beta asking for acme: %v", err)
	}
	if _, err := e.lg.DeviceTelemetry(ctx, admin("beta"), "dev-1", w); !errors.Is(err, ErrNotFound) {
		t.Fatalf("beta reading dev-1: %v", err)
	}
	// A device that publishes but never syncs: its hours settle after a
	// day, all of their traffic unreported (the recent hour not yet).
	e.device(acme, "acme", "dev-3", "sensor-a")
	old := h0 - 30*3600
	if _, _, err := e.lg.AddObservedCounts(ctx, []ObservedCount{{"acme", "dev-3", old, 8}, {"acme", "dev-3", h2, 5}}); err != nil {
		t.Fatal(err)
	}
	l, _, err = e.lg.TelemetryDiscrepancies(ctx, acme, DiscrepancyQuery{Window: TelemetryWindow{From: time.Unix(old, 0), To: e.clk.Now()}})
	if err != nil || len(l) != 3 || l[0].DeviceID != "dev-3" || l[0].Excess != 8 || l[0].Hours != 1 {
		t.Fatalf("with dev-3's old unreported hour: %+v, %v", l, err)
	}
	for name, bad := range map[string]TelemetryWindow{
		"reversed": {From: w.To, To: w.From},
		"too-long": {From: w.To.Add(-32 * Day), To: w.To},
		"empty":    {From: w.From, To: w.From},
	} {
		if _, err := e.lg.DeviceTelemetry(ctx, acme, "dev-1", bad); !errors.Is(err, ErrInvalid) {
			t.Fatalf("window %s: %v", name, err)
		}
	}
}
