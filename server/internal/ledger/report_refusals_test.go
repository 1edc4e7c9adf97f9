package ledger

import (
	"slices"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/shared/syncproto"
	"github.com/tollgate-iot/tollgate/shared/token"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// hcBy is hc with the refusals split by reason.
func hcBy(dev string, day, hour int, accepted, refused int64, by map[string]int64) syncproto.HourlyCount {
	c := hc(dev, day, hour, accepted, 0, refused)
	c.RefusedBy = by
	return c
}

// reasonIndex is the position of a reason in wire.RefusalReasons.
func reasonIndex(t *testing.T, r string) int {
	t.Helper()
	i := slices.Index(wire.RefusalReasons[:], r)
	if i < 0 {
		t.Fatalf("no reason %q", r)
	}
	return i
}

// TestConsumptionRefusalsByReason: a device licensed for 1,000 samples an
// hour in enforce mode (a 24,000 budget), whose agent reports refusals by
// reason. May 3: 08:00–15:00 at 3,000 (the budget), then 3,000 refused
// over_budget at 16:00 and 1,000 at 17:00 (990 over_budget, 10
// clock_tamper); May 4 02:00: 50 over_budget (May 3 still in the window);
// May 20 06:00: 12 refused, 7 expired and 4 revoked (one without a
// reason); May 21 06:00: 9 no_days; May 25 06:00: 4 refused by an older
// agent (no reasons: unknown, and not over budget — the window is empty);
// April 30 23:00: 100 over_budget, before the month. The overage is the
// real over_budget count (990 at 17:00, not the hour's 1,000), on two days.
func TestConsumptionRefusalsByReason(t *testing.T) {
	e := newEnv(t)
	_, acme, _, _ := e.tree()
	e.device(acme, "acme", "new-1", "sensor-a")
	e.licensed(acme, "acme", "new-1", 1000, token.EnforcementEnforce)
	apr30 := hcBy("new-1", 1, 23, 0, 100, map[string]int64{wire.ReasonOverBudget: 100})
	apr30.Hour -= 86400
	counts := []syncproto.HourlyCount{apr30}
	for h := 8; h < 16; h++ {
		counts = append(counts, hc("new-1", 3, h, 3000, 0, 0))
	}
	counts = append(counts,
		hcBy("new-1", 3, 16, 0, 3000, map[string]int64{wire.ReasonOverBudget: 3000}),
		hcBy("new-1", 3, 17, 0, 1000, map[string]int64{wire.ReasonOverBudget: 990, wire.ReasonClockTamper: 10}),
		hcBy("new-1", 4, 2, 0, 50, map[string]int64{wire.ReasonOverBudget: 50}),
		hcBy("new-1", 20, 6, 0, 12, map[string]int64{wire.ReasonExpired: 7, wire.ReasonRevoked: 4}),
		hcBy("new-1", 21, 6, 0, 9, map[string]int64{wire.ReasonNoDays: 9}),
		hc("new-1", 25, 6, 0, 0, 4))
	e.clk.Set(june.Add(time.Hour))
	e.report("new-1", counts...)

	r, total := e.consumption(acme, "acme", may)
	d := r.devices["new-1"]
	var want RefusalCounts
	want.ByReason[reasonIndex(t, wire.ReasonOverBudget)] = 3000 + 990 + 50
	want.ByReason[reasonIndex(t, wire.ReasonClockTamper)] = 10
	want.ByReason[reasonIndex(t, wire.ReasonExpired)] = 7
	want.ByReason[reasonIndex(t, wire.ReasonRevoked)] = 4
	want.ByReason[reasonIndex(t, wire.ReasonNoDays)] = 9
	want.Unknown = 1 + 4
	if d.Refused != want || d.Refused.Total() != 4075 {
		t.Fatalf("refused %+v (total %d), want %+v (4,075)", d.Refused, d.Refused.Total(), want)
	}
	if d.Overage != 4040 || d.DaysOverBudget != 2 || d.Samples != 24_000 || d.PeakHour != mayHour0+2*86400+8*3600 {
		t.Fatalf("new-1: %+v; want overage 4,040 on 2 days, 24,000 samples, peak May 3 08:00", d)
	}
	if total.Refused != want || total.Overage != 4040 || r.totals["acme"].Refused != want {
		t.Fatalf("totals %+v, acme %+v; want the device's refusals", total, r.totals["acme"])
	}
	// April alone: the 100 over budget, and nothing of May.
	r, _ = e.consumption(acme, "acme", may.AddDate(0, -1, 0))
	if a := r.devices["new-1"]; a.Refused.ByReason[reasonIndex(t, wire.ReasonOverBudget)] != 100 || a.Refused.Total() != 100 {
		t.Fatalf("April: %+v, want 100 over budget", a.Refused)
	}
}

// TestParseHourlyCountReusesReasons: reading hour after hour into one
// count reuses its refused_by map: an hour without reasons leaves it
// empty, and nothing is allocated once it has room.
func TestParseHourlyCountReusesReasons(t *testing.T) {
	with := []byte(`{"device_id":"d","hour":3600,"accepted":1,"overage":0,"refused":7,"refused_by":{"no_days":2,"over_budget":5}}`)
	without := []byte(`{"device_id":"d","hour":7200,"accepted":1,"overage":0,"refused":3}`)
	var c syncproto.HourlyCount
	if !parseHourlyCount(with, &c) || len(c.RefusedBy) != 2 || c.RefusedBy[wire.ReasonOverBudget] != 5 {
		t.Fatalf("with reasons: %+v", c)
	}
	if !parseHourlyCount(without, &c) || len(c.RefusedBy) != 0 || c.Refused != 3 {
		t.Fatalf("without reasons after with: %+v", c)
	}
	if n := testing.AllocsPerRun(100, func() { parseHourlyCount(with, &c); parseHourlyCount(without, &c) }); n != 0 {
		t.Fatalf("%v allocations per pair of hours", n)
	}
}

// BenchmarkParseHourlyCountReasons reads a stored hourly count with two
// refusal reasons, as the consumption report does for every hour.
func BenchmarkParseHourlyCountReasons(b *testing.B) {
	v := []byte(`{"device_id":"press-0001","hour":1777593600,"accepted":3000,"overage":0,"refused":1000,"refused_by":{"clock_tamper":10,"over_budget":990}}`)
	var c syncproto.HourlyCount
	b.ReportAllocs()
	for b.Loop() {
		if !parseHourlyCount(v, &c) {
			b.Fatal("declined")
		}
	}
}
