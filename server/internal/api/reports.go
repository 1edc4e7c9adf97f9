package api

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/consumption"
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
	cw      *consumption.CSV
	// firstCustomer and firstDevice place the JSON commas.
	firstCustomer, firstDevice bool
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
		s.cw = consumption.NewCSV(s.buf, s.head.CustomerID)
		return s.cw.Start()
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
	if s.csv {
		return s.cw.Device(d)
	}
	wd := consumption.WireDevice(d)
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
	if s.csv {
		return s.cw.EndCustomer(id, t)
	}
	wt := consumption.WireTotals(t)
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
	if s.csv {
		if err := s.cw.Finish(t); err != nil {
			return err
		}
		return s.buf.Flush()
	}
	wt := consumption.WireTotals(t)
	b, err := json.Marshal(wt)
	if err != nil {
		return err
	}
	if _, err := s.buf.WriteString(`],"totals":` + string(b) + "}\n"); err != nil {
		return err
	}
	return s.buf.Flush()
}
