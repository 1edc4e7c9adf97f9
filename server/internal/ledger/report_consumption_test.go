package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/shared/syncproto"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// May 2026 has 31 days; the ledger's clock starts in March, so that every
// license is bound before the month starts.
var (
	may      = time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	june     = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	mayHour0 = may.Unix()
)

// collected is a report as a sink received it.
type collected struct {
	customers []string
	devices   map[string]ConsumptionDevice
	order     []string
	totals    map[string]ConsumptionTotals
}

func (c *collected) BeginCustomer(cu *Customer) error {
	c.customers = append(c.customers, cu.ID)
	return nil
}

func (c *collected) Device(d *ConsumptionDevice) error {
	cp := *d
	cp.Licenses = slices.Clone(d.Licenses)
	c.devices[d.DeviceID] = cp
	c.order = append(c.order, d.DeviceID)
	return nil
}

func (c *collected) EndCustomer(id string, t *ConsumptionTotals) error {
	c.totals[id] = *t
	return nil
}

func (e *env) consumption(a Actor, customer string, month time.Time) (*collected, *ConsumptionTotals) {
	e.t.Helper()
	c := &collected{devices: map[string]ConsumptionDevice{}, totals: map[string]ConsumptionTotals{}}
	t, err := e.lg.ConsumptionReport(ctx, a, ConsumptionQuery{CustomerID: customer, Month: month}, c)
	if err != nil {
		e.t.Fatalf("ConsumptionReport %s %s: %v", customer, month.Format("2006-01"), err)
	}
	return c, t
}

// licensed creates a term license of customer at rate samples per hour in
// the given mode, kept a year, and binds it to dev.
func (e *env) licensed(a Actor, customer, dev string, rate int64, mode string) *LicenseView {
	e.t.Helper()
	in := std(customer)
	in.MaxSamplesPerHour, in.Enforcement, in.RetentionDays = rate, mode, 365
	l := e.create(admin("dist"), in)
	e.bind(a, l.ID, dev)
	return l
}

// hc is one hourly count of dev, day (1-based) and hour of May.
func hc(dev string, day, hour int, accepted, overage, refused int64) syncproto.HourlyCount {
	return syncproto.HourlyCount{DeviceID: dev, Hour: mayHour0 + int64(day-1)*86400 + int64(hour)*3600,
		Accepted: accepted, Overage: overage, Refused: refused}
}

// consumptionWorld seeds, through syncs and the broker's observed counts,
// the devices of the consumption tests under acme (see each test).
func consumptionWorld(t *testing.T) (*env, Actor) {
	e := newEnv(t)
	_, acme, _, _ := e.tree()
	for _, d := range []string{"term-1", "enf-1", "rep-1"} {
		e.device(acme, "acme", d, "sensor-a")
	}
	e.licensed(acme, "acme", "term-1", 1000, token.EnforcementEnforce)
	e.licensed(acme, "acme", "enf-1", 1000, token.EnforcementEnforce)
	e.licensed(acme, "acme", "rep-1", 1000, token.EnforcementReport)

	var term, enf, rep []syncproto.HourlyCount
	var observed []ObservedCount
	for day := 1; day <= 31; day++ {
		for h := 8; h < 16; h++ {
			term = append(term, hc("term-1", day, h, 3000, 0, 0))
			n := int64(3000)
			if day == 2 && h == 9 {
				n = 3010 // the broker saw ten more than the agent reported
			}
			observed = append(observed, ObservedCount{CustomerID: "acme", DeviceID: "term-1", Hour: mayHour0 + int64(day-1)*86400 + int64(h)*3600, Count: n})
		}
	}
	// enf-1 is offered 3,000 an hour from 08:00 to 18:00 on May 1–10 and
	// on April 30: the agent accepts the 24,000 of its rolling 24 hours by
	// 16:00 and refuses the rest. At 06:00 on May 1 it refuses 7 samples
	// while April 30's 24,000 are still in the window (over budget); at
	// 06:00 on May 12 it refuses 5 with the window empty (another reason).
	apr30 := func(h int) syncproto.HourlyCount { c := hc("enf-1", 1, h, 3000, 0, 0); c.Hour -= 86400; return c }
	for h := 8; h < 16; h++ {
		enf = append(enf, apr30(h))
	}
	enf = append(enf, hc("enf-1", 1, 6, 0, 0, 7))
	for day := 1; day <= 10; day++ {
		for h := 8; h < 16; h++ {
			enf = append(enf, hc("enf-1", day, h, 3000, 0, 0))
		}
		enf = append(enf, hc("enf-1", day, 16, 0, 0, 3000), hc("enf-1", day, 17, 0, 0, 3000))
	}
	enf = append(enf, hc("enf-1", 12, 6, 0, 0, 5))
	// rep-1 runs the same on the odd days 1–19 in report mode: the agent
	// lets 16:00 and 17:00 through as overage.
	for day := 1; day <= 19; day += 2 {
		for h := 8; h < 16; h++ {
			rep = append(rep, hc("rep-1", day, h, 3000, 0, 0))
		}
		rep = append(rep, hc("rep-1", day, 16, 3000, 3000, 0), hc("rep-1", day, 17, 3000, 3000, 0))
	}
	e.clk.Set(june.Add(time.Hour))
	e.report("term-1", term...)
	e.report("enf-1", enf...)
	e.report("rep-1", rep...)
	if _, _, err := e.lg.AddObservedCounts(ctx, observed); err != nil {
		t.Fatal(err)
	}
	return e, acme
}

// TestConsumptionTermDeviceWithinBudget: a term device licensed for 1,000
// samples an hour (a 24,000 budget over 24 hours) that runs 8 hours a day
// at 3,000 an hour uses exactly its budget every day of May: 31 × 24,000
// samples, no day over budget, no overage; the broker's counts stand next
// to the agent's.
func TestConsumptionTermDeviceWithinBudget(t *testing.T) {
	e, acme := consumptionWorld(t)
	r, _ := e.consumption(acme, "acme", may)
	d := r.devices["term-1"]
	want := ConsumptionDevice{DeviceID: "term-1", CustomerID: "acme", SamplesPerHour: 1000, Enforcement: "enforce", Budget24h: 24_000,
		Samples: 744_000, PeakHour: mayHour0 + 8*3600, PeakCount: 3000, Observed: 744_010, ObservedHours: 248, HasObserved: true}
	d.Licenses = nil
	if fmt.Sprintf("%+v", d) != fmt.Sprintf("%+v", want) {
		t.Fatalf("term-1:\n got %+v\nwant %+v", d, want)
	}
}

// TestConsumptionOverBudgetEnforce: in enforce mode, for an older agent
// that reports refusals without their reason, the overage is the
// refusals of hours whose rolling 24 hours had used the budget — the
// window reaching back into April for May 1 — not the 5 refused with the
// window empty; every refusal is of reason unknown.
func TestConsumptionOverBudgetEnforce(t *testing.T) {
	e, acme := consumptionWorld(t)
	r, _ := e.consumption(acme, "acme", may)
	d := r.devices["enf-1"]
	if d.Samples != 240_000 || d.Overage != 60_007 || d.Refused.Unknown != 60_012 || d.Refused.Total() != 60_012 ||
		d.DaysOverBudget != 10 || d.PeakHour != mayHour0+8*3600 || d.PeakCount != 3000 || d.HasObserved {
		t.Fatalf("enf-1: %+v; want 240,000 samples, 60,007 over budget (the overage), 60,012 refused of unknown reason, 10 days over", d)
	}
}

// TestConsumptionOverBudgetReport: in report mode the overage is what the
// agent let through past the budget.
func TestConsumptionOverBudgetReport(t *testing.T) {
	e, acme := consumptionWorld(t)
	r, _ := e.consumption(acme, "acme", may)
	d := r.devices["rep-1"]
	if d.Samples != 300_000 || d.Overage != 60_000 || d.Refused.Total() != 0 ||
		d.DaysOverBudget != 10 || d.Enforcement != "report" || d.Budget24h != 24_000 {
		t.Fatalf("rep-1: %+v; want 300,000 samples, 60,000 overage on 10 days", d)
	}
	// The customer's totals add its devices up.
	got := r.totals["acme"]
	want := ConsumptionTotals{Devices: 3, Samples: 744_000 + 240_000 + 300_000, Observed: 744_010, Overage: 60_007 + 60_000,
		Refused: RefusalCounts{Unknown: 60_012}, DaysOverBudget: 20}
	if got != want {
		t.Fatalf("acme totals %+v, want %+v", got, want)
	}
}

// TestConsumptionDayLicenseCharged31Days: a day license of 31 days charged
// once a day through May shows 31 days charged in May; the 32nd day, on
// June 1, finds no license to pay and blacklists the device, which June's
// report shows.
func TestConsumptionDayLicenseCharged31Days(t *testing.T) {
	e := newEnv(t)
	_, acme, _, _ := e.tree()
	e.device(acme, "acme", "day-1", "sensor-a")
	l := e.create(admin("dist"), days("acme", 31))
	e.bind(acme, l.ID, "day-1")
	for day := range 31 {
		at := may.Add(time.Duration(day)*Day + 30*time.Minute)
		e.clk.Set(at.Add(time.Minute))
		if _, err := e.lg.Deduct(ctx, DeductInput{DeviceID: "day-1", Seq: int64(day + 1), At: at}); err != nil {
			t.Fatalf("day %d: %v", day+1, err)
		}
	}
	e.clk.Set(june.Add(10 * time.Minute))
	r, _ := e.consumption(acme, "acme", may)
	d := r.devices["day-1"]
	if d.DaysCharged != 31 || d.DaysFailed != 0 || d.Blacklisted || len(d.Licenses) != 1 || d.Licenses[0].DaysCharged != 31 ||
		d.Licenses[0].Billing != token.BillingDays {
		t.Fatalf("May: %+v; want 31 days charged to its license", d)
	}
	at := june.Add(30 * time.Minute)
	e.clk.Set(at.Add(time.Minute))
	if _, err := e.lg.Deduct(ctx, DeductInput{DeviceID: "day-1", Seq: 32, At: at}); !errors.Is(err, ErrNoDaysLeft) {
		t.Fatalf("32nd day: %v, want no days left", err)
	}
	r, _ = e.consumption(acme, "acme", june)
	d = r.devices["day-1"]
	if d.DaysCharged != 0 || d.DaysFailed != 1 || !d.Blacklisted || r.totals["acme"].DaysFailed != 1 {
		t.Fatalf("June: %+v; want no day charged, one failed, blacklisted", d)
	}
	if r, _ := e.consumption(acme, "acme", may); r.devices["day-1"].DaysCharged != 31 || r.devices["day-1"].DaysFailed != 0 {
		t.Fatalf("May again: %+v", r.devices["day-1"])
	}
}

// TestConsumptionDistributorGroupsByCustomer: the distributor's report
// covers its subtree customer by customer (a customer, then its children
// in id order; customers without devices left out) with the totals of
// each and of the whole; a customer's covers its own subtree; a sibling
// asking for it gets ErrNotFound, and nothing reaches its sink.
func TestConsumptionDistributorGroupsByCustomer(t *testing.T) {
	e := newEnv(t)
	dist, acme, sub, beta := e.tree()
	e.device(acme, "acme", "a-2", "sensor-a")
	e.device(acme, "acme", "a-1", "sensor-a")
	e.device(sub, "acme-sub", "s-1", "sensor-a")
	e.device(beta, "beta", "b-1", "sensor-a")
	e.clk.Set(june.Add(time.Hour))
	e.report("a-1", hc("a-1", 3, 10, 100, 0, 0))
	e.report("s-1", hc("s-1", 4, 11, 40, 0, 2))
	e.report("b-1", hc("b-1", 5, 12, 7, 0, 0))

	r, total := e.consumption(dist, "dist", may)
	if !slices.Equal(r.customers, []string{"acme", "acme-sub", "beta"}) || !slices.Equal(r.order, []string{"a-1", "a-2", "s-1", "b-1"}) {
		t.Fatalf("groups %v, devices %v", r.customers, r.order)
	}
	if r.totals["acme"].Samples != 100 || r.totals["acme"].Devices != 2 || r.totals["acme-sub"].Refused.Unknown != 2 || r.totals["beta"].Samples != 7 {
		t.Fatalf("customer totals %+v", r.totals)
	}
	if total.Devices != 4 || total.Samples != 147 || total.Refused.Unknown != 2 {
		t.Fatalf("report totals %+v", total)
	}
	r, total = e.consumption(acme, "", may)
	if !slices.Equal(r.customers, []string{"acme", "acme-sub"}) || total.Samples != 140 {
		t.Fatalf("acme's own report: %v, %+v", r.customers, total)
	}
	c := &collected{devices: map[string]ConsumptionDevice{}, totals: map[string]ConsumptionTotals{}}
	if _, err := e.lg.ConsumptionReport(ctx, beta, ConsumptionQuery{CustomerID: "acme", Month: may}, c); !errors.Is(err, ErrNotFound) || len(c.customers) != 0 {
		t.Fatalf("beta asking for acme: %v, sink got %v", err, c.customers)
	}
	if _, err := e.lg.ConsumptionReport(ctx, dist, ConsumptionQuery{CustomerID: "dist", Month: time.Date(1999, 12, 1, 0, 0, 0, 0, time.UTC)}, c); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a month of 1999: %v", err)
	}
}

// TestConsumptionMonthBeyondRetention: a month that starts before now less
// the license's retention says from when its figures are whole.
func TestConsumptionMonthBeyondRetention(t *testing.T) {
	e := newEnv(t)
	_, acme, _, _ := e.tree()
	e.device(acme, "acme", "dev-1", "sensor-a")
	in := std("acme")
	in.RetentionDays = 30
	l := e.create(admin("dist"), in)
	e.bind(acme, l.ID, "dev-1")

	e.clk.Set(time.Date(2026, 5, 20, 12, 0, 0, 0, time.UTC))
	if r, total := e.consumption(acme, "acme", may); !r.devices["dev-1"].RetainedFrom.IsZero() || total.RetentionLimited != 0 {
		t.Fatalf("May within 30 days: %+v", r.devices["dev-1"])
	}
	e.clk.Set(time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC))
	r, total := e.consumption(acme, "acme", may)
	if got, want := r.devices["dev-1"].RetainedFrom, time.Date(2026, 5, 11, 12, 0, 0, 0, time.UTC); !got.Equal(want) || total.RetentionLimited != 1 {
		t.Fatalf("May seen on June 10: retained from %v, want %v (%d limited)", got, want, total.RetentionLimited)
	}
}

// TestParseHourlyCountMatchesJSON: the report's own reader of stored
// hourly counts agrees with encoding/json on what the ledger writes, and
// declines (leaving it to encoding/json) anything else.
func TestParseHourlyCountMatchesJSON(t *testing.T) {
	for _, c := range []syncproto.HourlyCount{
		{DeviceID: "dev-1", Hour: 1777593600, Accepted: 3000},
		{DeviceID: "a.b_c-9", Hour: 3600, Accepted: 1 << 36, Overage: 12, Refused: 7},
		{DeviceID: "x", Hour: 7200},
		{DeviceID: "y", Hour: 7200, Refused: 9, RefusedBy: map[string]int64{"over_budget": 5, "no_days": 1, "unknown_device": 2}},
	} {
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		var got syncproto.HourlyCount
		if !parseHourlyCount(b, &got) {
			t.Fatalf("%s declined", b)
		}
		c.DeviceID = ""
		if !got.Equal(&c) {
			t.Fatalf("%s read as %+v", b, got)
		}
	}
	for _, s := range []string{`{"hour":3600,"accepted":1}`, `{"device_id":"d", "hour":3600,"accepted":1,"overage":0,"refused":0}`,
		`{"device_id":"d","hour":3600,"accepted":-1,"overage":0,"refused":0}`, `{"device_id":"d","hour":3600,"accepted":1,"overage":0,"refused":0,"x":1}`,
		`{"device_id":"d","hour":3600,"accepted":1e3,"overage":0,"refused":0}`, `{"device_id":"d","hour":1234567890123456789,"accepted":1,"overage":0,"refused":0}`,
		`{"device_id":"d","hour":3600,"accepted":1,"overage":0,"refused":2,"refused_by":{"loud":2}}`,
		`{"device_id":"d","hour":3600,"accepted":1,"overage":0,"refused":2,"refused_by":{}}`,
		`{"device_id":"d","hour":3600,"accepted":1,"overage":0,"refused":2,"refused_by":{"no_days":2,}}`,
		`{"device_id":"d","hour":3600,"accepted":1,"overage":0,"refused":2,"refused_by":{"no_days":-2}}`,
		`{"device_id":"d","hour":3600,"accepted":1,"overage":0,"refused":2,"refused_by":{"no_days":2}`} {
		var got syncproto.HourlyCount
		if parseHourlyCount([]byte(s), &got) {
			t.Fatalf("%s accepted as %+v", s, got)
		}
	}
}

// TestConsumptionCountsForkCharges: a day charged again for a forked
// record (a seq the device used twice), kept with the license that paid
// it rather than under the device's seq, counts in the month's days.
func TestConsumptionCountsForkCharges(t *testing.T) {
	c, _, forked := forkCase(t)
	if _, err := c.e.lg.Reconcile(ctx, c.dev, forked); err != nil {
		t.Fatal(err)
	}
	r, total := c.e.consumption(c.e.root, c.e.root.CustomerID, epoch)
	d := r.devices[c.dev]
	if d.DaysCharged != 4 || len(d.Licenses) != 1 || d.Licenses[0].ID != c.lic || d.Licenses[0].DaysCharged != 4 || total.DaysCharged != 4 {
		t.Fatalf("%+v; want seqs 1, 2, 3 and the forked 2 charged: 4 days", d)
	}
}

// TestConsumptionStopsWhenCancelled: a report whose context ends (the
// client went away) stops before its next device.
func TestConsumptionStopsWhenCancelled(t *testing.T) {
	e, acme := consumptionWorld(t)
	cctx, cancel := context.WithCancel(ctx)
	c := &collected{devices: map[string]ConsumptionDevice{}, totals: map[string]ConsumptionTotals{}}
	cancel()
	if _, err := e.lg.ConsumptionReport(cctx, acme, ConsumptionQuery{CustomerID: "acme", Month: may}, c); !errors.Is(err, context.Canceled) || len(c.order) != 0 {
		t.Fatalf("cancelled: %v, %d devices reported", err, len(c.order))
	}
}

// TestDeviceConsumptionIsTheReportsRow: one device's row computed alone
// equals its row in its customer's report (the hand-computed world of the
// tests above), for each of the three devices; a sibling gets not found.
func TestDeviceConsumptionIsTheReportsRow(t *testing.T) {
	e, acme := consumptionWorld(t)
	r, _ := e.consumption(acme, "acme", may)
	for _, id := range []string{"term-1", "enf-1", "rep-1"} {
		got, err := e.lg.DeviceConsumption(ctx, acme, id, may)
		if err != nil {
			t.Fatal(err)
		}
		if want := r.devices[id]; fmt.Sprintf("%+v", *got) != fmt.Sprintf("%+v", want) {
			t.Fatalf("%s alone:\n got %+v\nwant %+v", id, *got, want)
		}
	}
	if _, err := e.lg.DeviceConsumption(ctx, admin("beta"), "term-1", may); !errors.Is(err, ErrNotFound) {
		t.Fatalf("sibling: %v", err)
	}
}
