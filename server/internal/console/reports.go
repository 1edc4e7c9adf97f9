package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/api"
	"github.com/tollgate-iot/tollgate/server/internal/consumption"
	"github.com/tollgate-iot/tollgate/server/internal/ledger"
)

// The reports page calls what GET /v1/reports/consumption, …/renewals,
// …/active and …/created call, as the signed-in actor, with the API's own
// query parsers: a customer outside the actor's subtree is not_found as
// from the API. The consumption report's CSV is the API's (the shared
// writer consumption.NewCSV), streamed from the console with the session
// since a browser has no API key.

// ReportRowsShown is how many device rows the consumption report's page
// shows; the CSV download has them all.
const ReportRowsShown = 200

// reportsData is the reports page: its forms and the report asked for.
type reportsData struct {
	// Kind is the report shown: "", consumption, renewals, active or
	// created.
	Kind      string
	Customers []ledger.Customer
	Query     url.Values
	// ThisMonth and Today fill the month and day inputs by default.
	ThisMonth, Today string
	// Consumption report.
	Devices     []ledger.ConsumptionDevice
	DevicesMore int64
	Totals      *ledger.ConsumptionTotals
	CSV         string
	// The other reports, a page each.
	Renewals    []ledger.RenewalRow
	Active      []ledger.ActiveRow
	Created     []ledger.CreatedRow
	Next, First string
}

// subtree lists the customers the actor sees, for the customer pickers
// (at most MaxCustomersShown; more says it was cut).
func (c *Console) subtree(ctx context.Context, a ledger.Actor) (all []ledger.Customer, more bool, err error) {
	cursor := ""
	for {
		cs, next, err := c.lg.ListCustomers(ctx, a, "", cursor, ledger.MaxPageSize)
		if err != nil {
			return nil, false, err
		}
		all = append(all, cs...)
		if next == "" {
			break
		}
		if len(all) >= MaxCustomersShown {
			more = true
			break
		}
		cursor = next
	}
	if len(all) > MaxCustomersShown {
		all, more = all[:MaxCustomersShown], true
	}
	return all, more, nil
}

// reportPage renders the reports page with d (its pickers filled in).
func (c *Console) reportPage(w http.ResponseWriter, r *http.Request, s *ledger.Session, d reportsData) {
	cs, _, err := c.subtree(r.Context(), s.Actor)
	if err != nil {
		c.failErr(w, r, s, err)
		return
	}
	d.Customers = cs
	now := c.clock.Now().UTC()
	d.ThisMonth, d.Today = now.Format("2006-01"), now.Format(time.DateOnly)
	if d.Query == nil {
		d.Query = url.Values{}
	}
	c.render(w, http.StatusOK, "reports", page{Title: "Reports", Session: s, Data: d})
}

func (c *Console) reports(w http.ResponseWriter, r *http.Request, s *ledger.Session) {
	if len(r.URL.Query()) > 0 {
		c.failErr(w, r, s, fmt.Errorf("%w: the reports page takes no parameter; each report's form has its own address", api.ErrBadQuery))
		return
	}
	c.reportPage(w, r, s, reportsData{})
}

// deviceRows keeps the first ReportRowsShown device rows of a consumption
// report and counts the rest.
type deviceRows struct {
	rows []ledger.ConsumptionDevice
	more int64
}

func (d *deviceRows) BeginCustomer(*ledger.Customer) error { return nil }

func (d *deviceRows) Device(row *ledger.ConsumptionDevice) error {
	if len(d.rows) >= ReportRowsShown {
		d.more++
		return nil
	}
	cp := *row // the ledger reuses row for the next device
	cp.Licenses = append([]ledger.ConsumptionLicense(nil), row.Licenses...)
	d.rows = append(d.rows, cp)
	return nil
}

func (d *deviceRows) EndCustomer(string, *ledger.ConsumptionTotals) error { return nil }

func (c *Console) consumptionReport(w http.ResponseWriter, r *http.Request, s *ledger.Session) {
	q, clean := formQuery(r, "customer", "month")
	cq, err := api.ConsumptionQueryOf(clean)
	if err != nil {
		c.failErr(w, r, s, err)
		return
	}
	rows := &deviceRows{}
	totals, err := c.lg.ConsumptionReport(r.Context(), s.Actor, cq, rows)
	if err != nil {
		c.failErr(w, r, s, err)
		return
	}
	c.reportPage(w, r, s, reportsData{Kind: "consumption", Query: q, Devices: rows.rows, DevicesMore: rows.more, Totals: totals,
		CSV: Prefix + "reports/consumption.csv?" + q.Encode()})
}

// csvAnswer sends the status and headers with the first bytes the CSV
// writer flushes, so a refusal before any row is still an error page.
type csvAnswer struct {
	w       http.ResponseWriter
	name    string
	started bool
}

func (a *csvAnswer) Write(p []byte) (int, error) {
	if !a.started {
		a.started = true
		h := a.w.Header()
		h.Set("Content-Type", "text/csv; charset=utf-8")
		h.Set("Content-Disposition", `attachment; filename="`+a.name+`"`)
		a.w.WriteHeader(http.StatusOK)
	}
	return a.w.Write(p)
}

func (c *Console) consumptionCSV(w http.ResponseWriter, r *http.Request, s *ledger.Session) {
	_, clean := formQuery(r, "customer", "month")
	cq, err := api.ConsumptionQueryOf(clean)
	if err != nil {
		c.failErr(w, r, s, err)
		return
	}
	if cq.CustomerID == "" {
		cq.CustomerID = s.Actor.CustomerID
	}
	from, _ := ledger.MonthBounds(cq.Month)
	out := &csvAnswer{w: w, name: fmt.Sprintf("consumption-%s-%s.csv", cq.CustomerID, from.Format("2006-01"))}
	cw := consumption.NewCSV(out, cq.CustomerID)
	totals, err := c.lg.ConsumptionReport(r.Context(), s.Actor, cq, cw)
	if err == nil {
		err = cw.Finish(totals)
	}
	switch {
	case err != nil && !out.started:
		c.failErr(w, r, s, err)
	case errors.Is(err, context.Canceled):
		c.log.Info("console: consumption CSV abandoned by the client", "customer_id", cq.CustomerID)
	case err != nil:
		// The status is sent: the file ends without its total row, which
		// is how a reader tells a report cut short.
		c.log.Error("console: consumption CSV cut short", "customer_id", cq.CustomerID, "error", err)
	}
}

func (c *Console) renewalsReport(w http.ResponseWriter, r *http.Request, s *ledger.Session) {
	q, clean := formQuery(r, "from", "to", "customer")
	rq, err := api.RenewalQueryOf(clean)
	if err != nil {
		c.failErr(w, r, s, err)
		return
	}
	rows, next, err := c.lg.ReportRenewals(r.Context(), s.Actor, rq)
	if err != nil {
		c.failErr(w, r, s, err)
		return
	}
	d := reportsData{Kind: "renewals", Query: q, Renewals: rows}
	d.Next, d.First = pageLinks("reports/renewals", q, rq.Cursor, next)
	c.reportPage(w, r, s, d)
}

func (c *Console) activeReport(w http.ResponseWriter, r *http.Request, s *ledger.Session) {
	q, clean := formQuery(r, "day", "reseller")
	aq, err := api.ActiveQueryOf(clean)
	if err != nil {
		c.failErr(w, r, s, err)
		return
	}
	rows, next, err := c.lg.ReportActive(r.Context(), s.Actor, aq)
	if err != nil {
		c.failErr(w, r, s, err)
		return
	}
	d := reportsData{Kind: "active", Query: q, Active: rows}
	d.Next, d.First = pageLinks("reports/active", q, aq.Cursor, next)
	c.reportPage(w, r, s, d)
}

func (c *Console) createdReport(w http.ResponseWriter, r *http.Request, s *ledger.Session) {
	q, clean := formQuery(r, "month", "customer")
	cq, err := api.CreatedQueryOf(clean)
	if err != nil {
		c.failErr(w, r, s, err)
		return
	}
	rows, next, err := c.lg.ReportCreated(r.Context(), s.Actor, cq)
	if err != nil {
		c.failErr(w, r, s, err)
		return
	}
	d := reportsData{Kind: "created", Query: q, Created: rows}
	d.Next, d.First = pageLinks("reports/created", q, cq.Cursor, next)
	c.reportPage(w, r, s, d)
}
