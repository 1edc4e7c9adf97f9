// Package consumption holds the monthly consumption report's outside
// forms: the wire documents of its devices and totals, and the CSV writer
// (a ledger.ConsumptionSink) that the API streams and the monthly e-mail
// attaches — one copy of the columns wire.ConsumptionCSVHeader documents.
package consumption

import (
	"encoding/csv"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// WireDevice is the wire form of one device row.
func WireDevice(d *ledger.ConsumptionDevice) wire.ConsumptionDevice {
	out := wire.ConsumptionDevice{DeviceID: d.DeviceID, CustomerID: d.CustomerID, Licenses: make([]wire.ConsumptionLicense, len(d.Licenses)),
		SamplesPerHour: d.SamplesPerHour, Enforcement: d.Enforcement, Budget24h: d.Budget24h, Samples: d.Samples,
		PeakCount: d.PeakCount, DaysOverBudget: d.DaysOverBudget, Overage: d.Overage,
		Refused:       WireRefusals(&d.Refused),
		ObservedHours: d.ObservedHours, DaysCharged: d.DaysCharged, DaysFailed: d.DaysFailed, Blacklisted: d.Blacklisted,
		RetainedFrom: timePtr(d.RetainedFrom)}
	for i, l := range d.Licenses {
		out.Licenses[i] = wire.ConsumptionLicense{ID: l.ID, Serial: l.Serial, Type: l.Type, Billing: l.Billing, Enforcement: l.Enforcement,
			MaxSamplesPerHour: l.MaxSamplesPerHour, RetentionDays: l.RetentionDays, DaysCharged: l.DaysCharged}
	}
	if d.PeakHour != 0 {
		h := time.Unix(d.PeakHour, 0).UTC()
		out.PeakHour = &h
	}
	if d.HasObserved {
		n := d.Observed
		out.Observed = &n
	}
	return out
}

// WireTotals is the wire form of a customer's or the report's totals.
func WireTotals(t *ledger.ConsumptionTotals) wire.ConsumptionTotals {
	return wire.ConsumptionTotals{Devices: t.Devices, Samples: t.Samples, Observed: t.Observed, Overage: t.Overage,
		Refused:        WireRefusals(&t.Refused),
		DaysOverBudget: t.DaysOverBudget, DaysCharged: t.DaysCharged, DaysFailed: t.DaysFailed, RetentionLimited: t.RetentionLimited}
}

// WireRefusals is the wire form of refusals by reason.
func WireRefusals(r *ledger.RefusalCounts) wire.ConsumptionRefusals {
	out := wire.ConsumptionRefusals{Total: r.Total(), ByReason: map[string]int64{}, Unknown: r.Unknown}
	for i, n := range r.ByReason {
		if n > 0 {
			out.ByReason[wire.RefusalReasons[i]] = n
		}
	}
	return out
}

// refusedColumns returns the refusal columns of a CSV row: refused, one
// per reason in wire.RefusalReasons order, refused_unknown.
func refusedColumns(r *wire.ConsumptionRefusals) []string {
	out := make([]string, 0, wire.ConsumptionRefusedColumns)
	out = append(out, strconv.FormatInt(r.Total, 10))
	for _, k := range wire.RefusalReasons {
		out = append(out, strconv.FormatInt(r.ByReason[k], 10))
	}
	return append(out, strconv.FormatInt(r.Unknown, 10))
}

// deviceRecord fills rec (len(wire.ConsumptionCSVHeader)) with
// a device row.
func deviceRecord(rec []string, d *wire.ConsumptionDevice) []string {
	n := func(v int64) string { return strconv.FormatInt(v, 10) }
	t := func(p *time.Time) string {
		if p == nil {
			return ""
		}
		return p.UTC().Format(time.RFC3339)
	}
	serials := make([]string, len(d.Licenses))
	for i, l := range d.Licenses {
		serials[i] = l.Serial
	}
	limited := "0"
	if d.RetainedFrom != nil {
		limited = "1"
	}
	observed := ""
	if d.Observed != nil {
		observed = n(*d.Observed)
	}
	row := append([]string{wire.ConsumptionRowDevice, d.CustomerID, d.DeviceID, strings.Join(serials, " "), d.Enforcement,
		n(d.SamplesPerHour), n(d.Budget24h), n(d.Samples), t(d.PeakHour), n(d.PeakCount), strconv.Itoa(d.DaysOverBudget),
		n(d.Overage)}, refusedColumns(&d.Refused)...)
	copy(rec, append(row, observed, strconv.Itoa(d.ObservedHours),
		n(d.DaysCharged), n(d.DaysFailed), strconv.FormatBool(d.Blacklisted), t(d.RetainedFrom), limited, "1"))
	return rec
}

// totalsRecord fills rec with a totals row of kind.
func totalsRecord(rec []string, kind, customerID string, t *wire.ConsumptionTotals) []string {
	n := func(v int64) string { return strconv.FormatInt(v, 10) }
	row := append([]string{kind, customerID, "", "", "", "", "", n(t.Samples), "", "", n(t.DaysOverBudget),
		n(t.Overage)}, refusedColumns(&t.Refused)...)
	copy(rec, append(row, n(t.Observed), "",
		n(t.DaysCharged), n(t.DaysFailed), "", "", strconv.Itoa(t.RetentionLimited), strconv.Itoa(t.Devices)))
	return rec
}

// CSV writes the report as CSV (header wire.ConsumptionCSVHeader): a row
// per device, a total per customer and one for the report. It is a
// ledger.ConsumptionSink; Finish writes the report's total and flushes.
type CSV struct {
	cw         *csv.Writer
	customerID string
	rec        []string
	started    bool
}

// NewCSV writes the report of customerID to w.
func NewCSV(w io.Writer, customerID string) *CSV {
	return &CSV{cw: csv.NewWriter(w), customerID: customerID, rec: make([]string, len(wire.ConsumptionCSVHeader))}
}

// Start writes the header row (once; every other method starts it too).
func (c *CSV) Start() error {
	if c.started {
		return nil
	}
	c.started = true
	return c.cw.Write(wire.ConsumptionCSVHeader)
}

// BeginCustomer starts a customer's rows.
func (c *CSV) BeginCustomer(*ledger.Customer) error { return c.Start() }

// Device writes a device row.
func (c *CSV) Device(d *ledger.ConsumptionDevice) error {
	if err := c.Start(); err != nil {
		return err
	}
	wd := WireDevice(d)
	return c.cw.Write(deviceRecord(c.rec, &wd))
}

// EndCustomer writes a customer's total row.
func (c *CSV) EndCustomer(id string, t *ledger.ConsumptionTotals) error {
	wt := WireTotals(t)
	return c.cw.Write(totalsRecord(c.rec, wire.ConsumptionRowCustomerTotal, id, &wt))
}

// Finish writes the report's total row and flushes.
func (c *CSV) Finish(t *ledger.ConsumptionTotals) error {
	if err := c.Start(); err != nil {
		return err
	}
	wt := WireTotals(t)
	if err := c.cw.Write(totalsRecord(c.rec, wire.ConsumptionRowTotal, c.customerID, &wt)); err != nil {
		return err
	}
	c.cw.Flush()
	return c.cw.Error()
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
