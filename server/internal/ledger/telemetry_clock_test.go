package ledger

import (
	"cmp"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/shared/syncproto"
)

// fastAgent is an agent on a clock that passes speed seconds per second of
// the server's (the demo's agents pass 3 hours per second): it counts
// accepted samples per hour of its own clock, the broker sees each
// message (extra more, for a tampered agent, published but never
// counted) in hours of the server's clock, and it syncs its running
// counts with sent_at on its own clock.
type fastAgent struct {
	e        *env
	id       string
	origin   time.Time
	speed    int64
	perHour  int64 // accepted per hour of its clock
	extra    int64 // published beyond that per hour of its clock, unreported
	counted  map[int64]int64
	reported map[int64]int64
	nonce    int
}

func (a *fastAgent) now() time.Time {
	return a.origin.Add(a.e.clk.Now().Sub(a.origin) * time.Duration(a.speed))
}

// runFleet passes d of server time second by second: each second each
// agent's clock passes speed seconds, whose samples it accepts and the
// broker observes in the server's current hour.
func runFleet(e *env, d time.Duration, fleet ...*fastAgent) {
	e.t.Helper()
	for range int(d / time.Second) {
		starts := make([]time.Time, len(fleet))
		for i, a := range fleet {
			starts[i] = a.now()
		}
		e.clk.Advance(time.Second)
		for i, a := range fleet {
			a.second(starts[i])
		}
	}
}

// second accepts the samples of the agent's clock since start.
func (a *fastAgent) second(start time.Time) {
	var seen int64
	for t := start; t.Before(a.now()); t = t.Add(time.Minute) { // 1 sample per device minute at 60/h
		h := t.Unix() - t.Unix()%3600
		if a.counted[h] < a.perHour {
			a.counted[h]++
			seen++
		}
	}
	seen += a.extra * a.speed / 3600
	srv := a.e.clk.Now().Unix()
	if _, _, err := a.e.lg.AddObservedCounts(ctx, []ObservedCount{{"acme", a.id, srv - srv%3600, seen}}); err != nil {
		a.e.t.Fatal(err)
	}
}

// sync reports the hours whose counts changed since its last sync.
func (a *fastAgent) sync() {
	a.e.t.Helper()
	var cs []syncproto.HourlyCount
	for h, n := range a.counted {
		if a.reported[h] != n {
			cs = append(cs, syncproto.HourlyCount{DeviceID: a.id, Hour: h, Accepted: n})
			a.reported[h] = n
		}
	}
	slices.SortFunc(cs, func(x, y syncproto.HourlyCount) int { return cmp.Compare(x.Hour, y.Hour) })
	a.nonce++
	r := &syncproto.Report{DeviceID: a.id, Nonce: fmt.Sprintf("%s%020d", a.id[:2], a.nonce), SentAt: a.now().Unix(),
		SentWall: a.e.clk.Now().Unix(), Tokens: []syncproto.TokenVersion{}, Deductions: []syncproto.Deduction{}, Counts: cs}
	if _, err := a.e.lg.Reconcile(ctx, a.id, r); err != nil {
		a.e.t.Fatalf("Reconcile %s: %v", a.id, err)
	}
}

// demoFleet runs, like the demo, an honest and a tampered agent at
// 10800× for 40 s of server time (5 days of theirs, 60 samples per hour),
// syncing every 10 s and once more at the end.
func demoFleet(t *testing.T) (e *env, acme Actor, honest, tampered *fastAgent) {
	e = newEnv(t)
	_, acme, _, _ = e.tree()
	e.clk.Set(e.clk.Now().Truncate(time.Hour).Add(time.Hour))
	mk := func(id string, extra int64) *fastAgent {
		e.device(acme, "acme", id, "sensor-a")
		return &fastAgent{e: e, id: id, origin: e.clk.Now(), speed: 10800, perHour: 60, extra: extra,
			counted: map[int64]int64{}, reported: map[int64]int64{}}
	}
	honest, tampered = mk("fast-ok", 0), mk("fast-bad", 12)
	for range 4 {
		runFleet(e, 10*time.Second, honest, tampered)
		honest.sync()
		tampered.sync()
	}
	return e, acme, honest, tampered
}

// TestFastClockDeviceSyncWindowsCountByReceipt: a device whose clock runs
// 3 h per second synced 7,200 accepted samples (5 days of its clock) in
// the last real minute; its last 24 h and 7 d are windows of the server's
// clock, so they count what its syncs brought in them — not 0, as a
// window laid over its future hours would — and say so; its hourly list
// is its own clock's last 7 days.
func TestFastClockDeviceSyncWindowsCountByReceipt(t *testing.T) {
	e, _, honest, _ := demoFleet(t)
	st, err := e.lg.DeviceSyncStatus(ctx, SystemActor(), honest.id)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Clock.Off() || st.Clock.Offset < 24*time.Hour || !st.ByReceipt {
		t.Fatalf("clock %+v by receipt %v, want a clock days ahead and windows by receipt", st.Clock, st.ByReceipt)
	}
	if st.Last24h.Accepted != 7200 || st.Last7d.Accepted != 7200 {
		t.Fatalf("last 24 h %+v, 7 d %+v, want the 7200 accepted its syncs brought", st.Last24h, st.Last7d)
	}
	if len(st.Hourly) != 120 || st.Hourly[0].Hour != honest.origin.Unix() {
		t.Fatalf("hourly: %d hours from %v, want its 120 hours from its origin", len(st.Hourly), st.Hourly[0].Hour)
	}
	// A day later on the server's clock, they left the 24 h window, not the 7 d.
	e.clk.Advance(25 * time.Hour)
	if st, err = e.lg.DeviceSyncStatus(ctx, SystemActor(), honest.id); err != nil || st.Last24h.Accepted != 0 || st.Last7d.Accepted != 7200 {
		t.Fatalf("a day later: 24 h %+v, 7 d %+v, %v", st.Last24h, st.Last7d, err)
	}
}

// TestFastClockDeviceTelemetryComparedAsTotals: the broker observed the
// fast devices in server hours while they reported hours of their own
// clock; the view does not lay one over the other (no per-hour rows, so
// no negative differences) but compares totals on the server's clock: the
// honest device's observed equals what it reported, the tampered one's
// unreported messages show as excess once settled, and the discrepancy
// list shows it alone.
func TestFastClockDeviceTelemetryComparedAsTotals(t *testing.T) {
	e, acme, honest, tampered := demoFleet(t)
	w := TelemetryWindow{From: e.clk.Now().Add(-7 * Day), To: e.clk.Now()}
	v, err := e.lg.DeviceTelemetry(ctx, acme, honest.id, w)
	if err != nil {
		t.Fatal(err)
	}
	if !v.ByTotals || len(v.Hours) != 0 || !v.Clock.Off() || v.Observed != 7200 || v.Accepted != 7200 || v.Excess != 0 {
		t.Fatalf("honest fast device: %+v", v)
	}
	// The hour settles: the agents sync again after it ended (and the margin).
	e.clk.Advance(time.Hour + 15*time.Minute)
	honest.sync()
	tampered.sync()
	w = TelemetryWindow{From: e.clk.Now().Add(-7 * Day), To: e.clk.Now()}
	v, err = e.lg.DeviceTelemetry(ctx, acme, tampered.id, w)
	if err != nil {
		t.Fatal(err)
	}
	if !v.ByTotals || len(v.Hours) != 0 || v.Accepted != 7200 || v.Observed != 7200+120*12 || v.Excess != 120*12 {
		t.Fatalf("tampered fast device: %+v, want excess %d", v, 120*12)
	}
	if v, err = e.lg.DeviceTelemetry(ctx, acme, honest.id, w); err != nil || v.Excess != 0 || v.Observed != v.Accepted {
		t.Fatalf("honest fast device settled: %+v, %v", v, err)
	}
	l, _, err := e.lg.TelemetryDiscrepancies(ctx, acme, DiscrepancyQuery{Window: w})
	if err != nil || len(l) != 1 || l[0].DeviceID != tampered.id || !l[0].ByTotals || l[0].Excess != 120*12 || l[0].Accepted != 7200 {
		t.Fatalf("discrepancies %+v, %v; want the tampered device alone, by totals", l, err)
	}
}

// TestTrueClockDeviceStillComparedPerHour: a device on the server's clock
// (a sync's sent_at within ClockTolerance) is compared hour by hour, its
// unreported messages an excess in the hour they were seen; its sync
// windows count its own hours.
func TestTrueClockDeviceStillComparedPerHour(t *testing.T) {
	e := newEnv(t)
	_, acme, _, _ := e.tree()
	e.device(acme, "acme", "dev-1", "sensor-a")
	h := e.clk.Now().Unix() - e.clk.Now().Unix()%3600 - 2*3600
	e.clk.Advance(20 * time.Minute) // the sync comes after both hours and the margin
	if _, _, err := e.lg.AddObservedCounts(ctx, []ObservedCount{{"acme", "dev-1", h, 60}, {"acme", "dev-1", h + 3600, 75}}); err != nil {
		t.Fatal(err)
	}
	e.report("dev-1", syncproto.HourlyCount{DeviceID: "dev-1", Hour: h, Accepted: 60}, syncproto.HourlyCount{DeviceID: "dev-1", Hour: h + 3600, Accepted: 60})
	v, err := e.lg.DeviceTelemetry(ctx, acme, "dev-1", TelemetryWindow{From: time.Unix(h, 0), To: e.clk.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if v.ByTotals || !v.Clock.Known || v.Clock.Off() || len(v.Hours) != 2 || v.Hours[1].Difference() != 15 || v.Excess != 15 {
		t.Fatalf("true-clock device: %+v", v)
	}
	st, err := e.lg.DeviceSyncStatus(ctx, SystemActor(), "dev-1")
	if err != nil || st.ByReceipt || st.Last24h.Accepted != 120 || len(st.Hourly) != 2 {
		t.Fatalf("sync status %+v, %v", st, err)
	}
}
