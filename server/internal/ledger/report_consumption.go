package ledger

import (
	"context"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// The monthly consumption report (docs/reports.md "Monthly consumption"):
// per device of a customer's subtree, for one calendar month (UTC), what
// its licenses allow, what it reported hour by hour, what the broker
// observed, the budget it went over and the days it was charged. The
// report is streamed: it walks the subtree customer by customer (the
// customer first, then its children in id order), each customer's devices
// in id order and each device's hours in order, and hands every device to
// a sink as soon as it is computed. What it holds at any time is one
// device's figures (a 24-hour window of counts, the days of the month)
// and the path of customers it is in, whatever the size of the subtree.

// ConsumptionQuery selects a consumption report.
type ConsumptionQuery struct {
	// CustomerID is the customer whose subtree is reported (empty: the
	// actor's own customer).
	CustomerID string
	// Month is any instant of the month reported; the month is taken in
	// UTC.
	Month time.Time
}

// ConsumptionLicense is one license of a device in the report: a license
// bound to the device now, or one that was charged a day for it in the
// month.
type ConsumptionLicense struct {
	ID                string
	Serial            string
	Type              string
	Billing           string
	Enforcement       string
	MaxSamplesPerHour int64
	RetentionDays     int
	// DaysCharged counts the days charged to the license for the device
	// in the month.
	DaysCharged int64
}

// ConsumptionDevice is one device's month.
type ConsumptionDevice struct {
	DeviceID   string
	CustomerID string
	Licenses   []ConsumptionLicense
	// SamplesPerHour and Enforcement are those of the license that sets
	// the device's budget: the highest rate among its licenses bound now
	// (or, with none bound, among those charged in the month). 0: no
	// limit. Budget24h is SamplesPerHour × 24, the rolling 24-hour budget
	// the agent enforces or reports against.
	SamplesPerHour int64
	Enforcement    string
	Budget24h      int64
	// Samples sums the accepted samples the device reported for the
	// month's hours; PeakHour (Unix seconds, 0: none) is its busiest hour,
	// the earliest of equals, and PeakCount that hour's samples.
	Samples   int64
	PeakHour  int64
	PeakCount int64
	// DaysOverBudget counts the UTC days of the month with an hour over
	// the budget: with overage (report mode) or with refusals while the
	// rolling 24 hours had used the whole budget (enforce mode).
	DaysOverBudget int
	// Overage is the samples past the budget: in report mode those the
	// agent let through over it; in enforce mode its over_budget
	// refusals — for an hour of an older agent, which reports refusals
	// without their reason, all refusals of an hour in which the rolling
	// 24 hours had used the whole budget.
	Overage int64
	// Refused splits the refused samples the device reported by reason.
	Refused RefusalCounts
	// Observed sums what the broker observed for the device in the month,
	// over ObservedHours hours; HasObserved is false when it observed
	// nothing (the device publishes elsewhere, or not at all).
	Observed      int64
	ObservedHours int
	HasObserved   bool
	// DaysCharged counts the days charged for the device in the month;
	// DaysFailed the deductions that found no license to pay (each one
	// blacklisted the device). Blacklisted is the device's state now.
	DaysCharged int64
	DaysFailed  int64
	Blacklisted bool
	// RetainedFrom is set when the month starts before the retention of
	// the device's licenses (the longest of their retention_days before
	// now, DefaultRetentionDays without a license; retention.go prunes by
	// the same rule): hours before it may have been pruned, so the figures
	// may be short.
	RetainedFrom time.Time
}

// NumRefusalReasons is the number of refusal reasons an agent may report
// (wire.RefusalReasons).
const NumRefusalReasons = len(wire.RefusalReasons)

// RefusalCounts counts refused samples by reason.
type RefusalCounts struct {
	// ByReason counts each reason's refusals, in wire.RefusalReasons
	// order.
	ByReason [NumRefusalReasons]int64
	// Unknown counts the refusals without a reason: every refusal of an
	// agent older than refused_by, and those of an hour past the
	// reasons one count may carry (limits.MaxRefusedByReasons).
	Unknown int64
}

// Total is all refusals, with a reason or without.
func (r *RefusalCounts) Total() int64 {
	n := r.Unknown
	for _, v := range r.ByReason {
		n = addCount(n, v)
	}
	return n
}

// addHour adds an hourly count's refusals.
func (r *RefusalCounts) addHour(h *syncproto.HourlyCount) {
	for k, v := range h.RefusedBy {
		for i, name := range wire.RefusalReasons {
			if name == k {
				r.ByReason[i] = addCount(r.ByReason[i], v)
				break
			}
		}
	}
	r.Unknown = addCount(r.Unknown, h.RefusedWithoutReason())
}

func (r *RefusalCounts) add(o *RefusalCounts) {
	for i, v := range o.ByReason {
		r.ByReason[i] = addCount(r.ByReason[i], v)
	}
	r.Unknown = addCount(r.Unknown, o.Unknown)
}

// ConsumptionTotals adds up devices: a customer's own, or the whole
// report's.
type ConsumptionTotals struct {
	Devices  int
	Samples  int64
	Observed int64
	Overage  int64
	Refused  RefusalCounts
	// DaysOverBudget adds up the devices' days over budget (device-days).
	DaysOverBudget   int64
	DaysCharged      int64
	DaysFailed       int64
	RetentionLimited int // devices whose month starts before their retention
}

func (t *ConsumptionTotals) add(d *ConsumptionDevice) {
	t.Devices++
	t.Samples = addCount(t.Samples, d.Samples)
	t.Observed = addCount(t.Observed, d.Observed)
	t.Overage = addCount(t.Overage, d.Overage)
	t.Refused.add(&d.Refused)
	t.DaysOverBudget += int64(d.DaysOverBudget)
	t.DaysCharged += d.DaysCharged
	t.DaysFailed += d.DaysFailed
	if !d.RetainedFrom.IsZero() {
		t.RetentionLimited++
	}
}

func (t *ConsumptionTotals) merge(o *ConsumptionTotals) {
	t.Devices += o.Devices
	t.Samples = addCount(t.Samples, o.Samples)
	t.Observed = addCount(t.Observed, o.Observed)
	t.Overage = addCount(t.Overage, o.Overage)
	t.Refused.add(&o.Refused)
	t.DaysOverBudget += o.DaysOverBudget
	t.DaysCharged += o.DaysCharged
	t.DaysFailed += o.DaysFailed
	t.RetentionLimited += o.RetentionLimited
}

// ConsumptionSink receives a report as it is computed: for each customer
// of the subtree with devices, BeginCustomer, its devices in id order,
// then EndCustomer with its totals. An error stops the report.
type ConsumptionSink interface {
	BeginCustomer(c *Customer) error
	Device(d *ConsumptionDevice) error
	EndCustomer(customerID string, t *ConsumptionTotals) error
}

// MonthBounds returns the first instant of t's month (UTC) and of the
// next one.
func MonthBounds(t time.Time) (from, to time.Time) {
	t = t.UTC()
	from = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	return from, from.AddDate(0, 1, 0)
}

// ConsumptionReport streams the consumption report of a customer's
// subtree for one month to sink and returns the report's totals. A
// customer outside the actor's subtree is ErrNotFound, returned before
// sink is called. It reads one snapshot of the ledger; ctx ends it early.
func (lg *Ledger) ConsumptionReport(ctx context.Context, a Actor, q ConsumptionQuery, sink ConsumptionSink) (*ConsumptionTotals, error) {
	if q.CustomerID == "" {
		q.CustomerID = a.CustomerID
	}
	from, to := MonthBounds(q.Month)
	if from.Year() < minReportYear || from.Year() > maxReportYear {
		return nil, invalid("month %s: the year must be %d..%d", from.Format("2006-01"), minReportYear, maxReportYear)
	}
	total := &ConsumptionTotals{}
	err := lg.view(func(o *op) error {
		root, err := o.visibleCustomer(a, q.CustomerID)
		if err != nil {
			return err
		}
		w := &consumptionWalk{ctx: ctx, o: o, sink: sink, from: from.Unix(), to: to.Unix(), total: total}
		return w.customer(root)
	})
	if err != nil {
		return nil, err
	}
	return total, nil
}

// The years a consumption report may ask for: hours are Unix seconds,
// and a month outside these holds nothing.
const (
	minReportYear = 2000
	maxReportYear = 9999
)

// consumptionWalk is one report's walk through the subtree.
type consumptionWalk struct {
	ctx      context.Context
	o        *op
	sink     ConsumptionSink
	from, to int64
	total    *ConsumptionTotals
	// dev is reused from device to device.
	dev consumptionDevice
}

// customer reports c's devices, then each child's subtree in id order.
func (w *consumptionWalk) customer(c *Customer) error {
	if err := w.devices(c); err != nil {
		return err
	}
	var children []string
	err := w.o.x.Scan(store.ChildPrefix(c.ID), nil, false, func(k, _ []byte) (bool, error) {
		children = append(children, store.LastPart(k))
		return true, nil
	})
	if err != nil {
		return err
	}
	for _, id := range children {
		child, err := w.o.customer(id)
		if err != nil {
			return err
		}
		if err := w.customer(child); err != nil {
			return err
		}
	}
	return nil
}

// devices reports c's own devices, if it has any.
func (w *consumptionWalk) devices(c *Customer) error {
	var t ConsumptionTotals
	begun := false
	err := w.o.x.Scan(store.DeviceByCustomerPrefix(c.ID), nil, false, func(k, _ []byte) (bool, error) {
		if err := w.ctx.Err(); err != nil {
			return false, err
		}
		d, err := w.o.device(store.LastPart(k))
		if err != nil {
			return false, err
		}
		if !begun {
			if err := w.sink.BeginCustomer(c); err != nil {
				return false, err
			}
			begun = true
		}
		row, err := w.dev.compute(w.o, d, w.from, w.to)
		if err != nil {
			return false, err
		}
		t.add(row)
		return true, w.sink.Device(row)
	})
	if err != nil || !begun {
		return err
	}
	w.total.merge(&t)
	return w.sink.EndCustomer(c.ID, &t)
}

// DeviceConsumption is one device's row of the consumption report of the
// month holding month (its licensed rate, budget, use): what the report of
// its customer says of it, computed for that device alone. A device the
// actor does not see is ErrNotFound. The row is the caller's.
func (lg *Ledger) DeviceConsumption(ctx context.Context, a Actor, deviceID string, month time.Time) (*ConsumptionDevice, error) {
	from, to := MonthBounds(month)
	if from.Year() < minReportYear || from.Year() > maxReportYear {
		return nil, invalid("month %s: the year must be %d..%d", from.Format("2006-01"), minReportYear, maxReportYear)
	}
	var out ConsumptionDevice
	err := lg.view(func(o *op) error {
		d, err := o.visibleDevice(a, deviceID)
		if err != nil {
			return err
		}
		var c consumptionDevice
		row, err := c.compute(o, d, from.Unix(), to.Unix())
		if err != nil {
			return err
		}
		out = *row
		out.Licenses = append([]ConsumptionLicense(nil), row.Licenses...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}
