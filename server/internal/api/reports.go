package api

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// reportBufferBytes is the write buffer of a streamed report: the answer
// goes out in pieces of this size, whatever the size of the report.
const reportBufferBytes = 32 << 10

// reportQuery lists the query parameters of the consumption report; any
// other is refused.
var reportQuery = map[string]bool{"customer": true, "month": true, "format": true}

// consumptionReport is GET /v1/reports/consumption?customer=&month=YYYY-MM[&format=json|csv]:
// the month of every device of the customer's subtree, streamed as JSON
// or, with format=csv or Accept: text/csv, as CSV. A customer outside the
// caller's subtree is not_found, answered before anything is streamed.
func (a *API) consumptionReport(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	for k := range q {
		if !reportQuery[k] {
			a.fail(w, r, fmt.Errorf("%w: unknown parameter %q (customer, month, format)", ErrBadQuery, k))
			return
		}
	}
	customer, err := queryID(q, "customer")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	month, err := parseMonth(q.Get("month"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	asCSV, err := reportFormat(q.Get("format"), r.Header.Get("Accept"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	act := actor(r)
	if customer == "" {
		customer = act.CustomerID
	}
	from, to := ledger.MonthBounds(month)
	s := &consumptionStream{w: w, csv: asCSV, head: wire.ConsumptionReport{CustomerID: customer, Month: from.Format(monthLayout), From: from, To: to}}
	totals, err := a.lg.ConsumptionReport(r.Context(), act, ledger.ConsumptionQuery{CustomerID: customer, Month: month}, s)
	if err == nil {
		err = s.finish(totals)
	}
	switch {
	case err != nil && !s.started:
		a.fail(w, r, err)
	case errors.Is(err, context.Canceled):
		// The client went away: the report stopped with it.
		a.log.Info("consumption report abandoned by the client", "customer_id", customer, "month", from.Format(monthLayout))
	case err != nil:
		// The status is sent: the answer ends without its totals, which
		// is how a client tells a report cut short.
		a.log.Error("consumption report cut short", "customer_id", customer, "month", from.Format(monthLayout), "error", err)
	}
}

const monthLayout = "2006-01"

// parseMonth reads month=YYYY-MM (required).
func parseMonth(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, fmt.Errorf("%w: month is required (YYYY-MM)", ErrBadQuery)
	}
	t, err := time.Parse(monthLayout, s)
	if err != nil || len(s) != len(monthLayout) {
		return time.Time{}, fmt.Errorf("%w: month %q: want YYYY-MM", ErrBadQuery, s)
	}
	return t, nil
}

// reportFormat decides CSV or JSON: format= if given, else an Accept
// header that names text/csv.
func reportFormat(format, accept string) (bool, error) {
	switch format {
	case "csv":
		return true, nil
	case "json":
		return false, nil
	case "":
	default:
		return false, fmt.Errorf("%w: format %q: want json or csv", ErrBadQuery, format)
	}
	for _, part := range strings.Split(accept, ",") {
		if mt, _, err := mime.ParseMediaType(strings.TrimSpace(part)); err == nil && mt == "text/csv" {
			return true, nil
		}
	}
	return false, nil
}

// consumptionStream writes the report as the ledger hands it over: the
// status and headers with the first customer (or at the end of an empty
// report), then each device as it comes.
type consumptionStream struct {
	w       http.ResponseWriter
	csv     bool
	head    wire.ConsumptionReport
	started bool
	buf     *bufio.Writer
	cw      *csv.Writer
	// firstCustomer and firstDevice place the JSON commas.
	firstCustomer, firstDevice bool
	rec                        []string
}

func (s *consumptionStream) start() error {
	if s.started {
		return nil
	}
	s.started, s.firstCustomer = true, true
	h := s.w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	s.buf = bufio.NewWriterSize(s.w, reportBufferBytes)
	if s.csv {
		h.Set("Content-Type", "text/csv; charset=utf-8")
		h.Set("Content-Disposition", fmt.Sprintf("attachment; filename=\"consumption-%s-%s.csv\"", s.head.CustomerID, s.head.Month))
		s.w.WriteHeader(http.StatusOK)
		s.cw = csv.NewWriter(s.buf)
		s.rec = make([]string, len(wire.ConsumptionCSVHeader))
		return s.cw.Write(wire.ConsumptionCSVHeader)
	}
	h.Set("Content-Type", "application/json")
	s.w.WriteHeader(http.StatusOK)
	head, err := json.Marshal(s.head)
	if err != nil {
		return err
	}
	// The head's customers list is written by hand: cut the encoded
	// empty list and its totals off, and append as the report streams.
	i := strings.Index(string(head), `,"customers":`)
	if i < 0 {
		return fmt.Errorf("api: consumption report head %s", head)
	}
	_, err = s.buf.WriteString(string(head[:i]) + `,"customers":[`)
	return err
}

func (s *consumptionStream) BeginCustomer(c *ledger.Customer) error {
	if err := s.start(); err != nil {
		return err
	}
	if s.csv {
		return nil
	}
	sep := ","
	if s.firstCustomer {
		sep, s.firstCustomer = "", false
	}
	id, _ := json.Marshal(c.ID)
	name, _ := json.Marshal(c.Name)
	s.firstDevice = true
	_, err := s.buf.WriteString(sep + `{"customer_id":` + string(id) + `,"name":` + string(name) + `,"devices":[`)
	return err
}

func (s *consumptionStream) Device(d *ledger.ConsumptionDevice) error {
	wd := wireConsumptionDevice(d)
	if s.csv {
		return s.cw.Write(consumptionDeviceRecord(s.rec, &wd))
	}
	b, err := json.Marshal(wd)
	if err != nil {
		return err
	}
	if !s.firstDevice {
		if err := s.buf.WriteByte(','); err != nil {
			return err
		}
	}
	s.firstDevice = false
	_, err = s.buf.Write(b)
	return err
}

func (s *consumptionStream) EndCustomer(id string, t *ledger.ConsumptionTotals) error {
	wt := wireConsumptionTotals(t)
	if s.csv {
		return s.cw.Write(consumptionTotalsRecord(s.rec, wire.ConsumptionRowCustomerTotal, id, &wt))
	}
	b, err := json.Marshal(wt)
	if err != nil {
		return err
	}
	_, err = s.buf.WriteString(`],"totals":` + string(b) + `}`)
	return err
}

// finish writes the report's totals and flushes.
func (s *consumptionStream) finish(t *ledger.ConsumptionTotals) error {
	if err := s.start(); err != nil {
		return err
	}
	wt := wireConsumptionTotals(t)
	if s.csv {
		if err := s.cw.Write(consumptionTotalsRecord(s.rec, wire.ConsumptionRowTotal, s.head.CustomerID, &wt)); err != nil {
			return err
		}
		s.cw.Flush()
		if err := s.cw.Error(); err != nil {
			return err
		}
		return s.buf.Flush()
	}
	b, err := json.Marshal(wt)
	if err != nil {
		return err
	}
	if _, err := s.buf.WriteString(`],"totals":` + string(b) + "}\n"); err != nil {
		return err
	}
	return s.buf.Flush()
}

func wireConsumptionDevice(d *ledger.ConsumptionDevice) wire.ConsumptionDevice {
	out := wire.ConsumptionDevice{DeviceID: d.DeviceID, CustomerID: d.CustomerID, Licenses: make([]wire.ConsumptionLicense, len(d.Licenses)),
		SamplesPerHour: d.SamplesPerHour, Enforcement: d.Enforcement, Budget24h: d.Budget24h, Samples: d.Samples,
		PeakCount: d.PeakCount, DaysOverBudget: d.DaysOverBudget, Overage: d.Overage,
		Refused:       wireRefusals(&d.Refused),
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

func wireConsumptionTotals(t *ledger.ConsumptionTotals) wire.ConsumptionTotals {
	return wire.ConsumptionTotals{Devices: t.Devices, Samples: t.Samples, Observed: t.Observed, Overage: t.Overage,
		Refused:        wireRefusals(&t.Refused),
		DaysOverBudget: t.DaysOverBudget, DaysCharged: t.DaysCharged, DaysFailed: t.DaysFailed, RetentionLimited: t.RetentionLimited}
}

func wireRefusals(r *ledger.RefusalCounts) wire.ConsumptionRefusals {
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

// consumptionDeviceRecord fills rec (len(wire.ConsumptionCSVHeader)) with
// a device row.
func consumptionDeviceRecord(rec []string, d *wire.ConsumptionDevice) []string {
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

// consumptionTotalsRecord fills rec with a totals row of kind.
func consumptionTotalsRecord(rec []string, kind, customerID string, t *wire.ConsumptionTotals) []string {
	n := func(v int64) string { return strconv.FormatInt(v, 10) }
	row := append([]string{kind, customerID, "", "", "", "", "", n(t.Samples), "", "", n(t.DaysOverBudget),
		n(t.Overage)}, refusedColumns(&t.Refused)...)
	copy(rec, append(row, n(t.Observed), "",
		n(t.DaysCharged), n(t.DaysFailed), "", "", strconv.Itoa(t.RetentionLimited), strconv.Itoa(t.Devices)))
	return rec
}
