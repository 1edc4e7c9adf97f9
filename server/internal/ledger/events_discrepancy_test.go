package ledger

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/shared/syncproto"
)

// TestDiscrepancyEventOncePerDeviceDay: the broker saw dev-1 send 10 in
// an hour of March 14th, it reported 4: two days later the scheduler's
// pass emits one telemetry.discrepancy (excess 6) to the distributor's
// endpoint; later passes emit nothing more; a sibling hears nothing.
func TestDiscrepancyEventOncePerDeviceDay(t *testing.T) {
	e := newHookEnv(t)
	dist, acme, _, beta := e.tree()
	e.device(acme, "acme", "dev-1", "sensor-a")
	wd := e.webhook(dist, "dist", EventTelemetryDiscrepancy)
	wb := e.webhook(beta, "beta", EventTelemetryDiscrepancy)
	h := e.clk.Now().Unix() - e.clk.Now().Unix()%3600 - 3*3600
	if _, _, err := e.lg.AddObservedCounts(ctx, []ObservedCount{{"acme", "dev-1", h, 10}}); err != nil {
		t.Fatal(err)
	}
	e.report("dev-1", syncproto.HourlyCount{DeviceID: "dev-1", Hour: h, Accepted: 4})
	e.clk.Set(time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)) // the 14th not yet judged
	if _, err := e.lg.IssueNotices(ctx); err != nil {
		t.Fatal(err)
	}
	if got := e.deliveries(wd); len(got) != 0 {
		t.Fatalf("judged before its syncs had a day: %v", got)
	}
	e.clk.Set(time.Date(2026, 3, 16, 0, 30, 0, 0, time.UTC))
	for range 3 {
		if _, err := e.lg.IssueNotices(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := e.deliveries(wd); !slices.Equal(got, []string{EventTelemetryDiscrepancy}) {
		t.Fatalf("distributor's endpoint got %v", got)
	}
	if got := e.deliveries(wb); len(got) != 0 {
		t.Fatalf("sibling's endpoint got %v", got)
	}
	due, _ := e.lg.DueDeliveries(ctx, 10)
	var ev struct{ Data DiscrepancyEventData }
	if len(due) != 1 || json.Unmarshal(due[0].Body, &ev) != nil || ev.Data.DeviceID != "dev-1" || ev.Data.Day != "2026-03-14" ||
		ev.Data.Observed != 10 || ev.Data.Accepted != 4 || ev.Data.Excess != 6 {
		t.Fatalf("event %s", due[0].Body)
	}
}
