package api

import (
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/tollgate-iot/tollgate/shared/wire"
)

// onlyParams refuses a query parameter the endpoint does not know, or one
// given twice.
func onlyParams(q url.Values, known []string) error {
	for k, vs := range q {
		ok := false
		for _, n := range known {
			ok = ok || k == n
		}
		if !ok {
			return fmt.Errorf("%w: unknown parameter %q", ErrBadQuery, k)
		}
		if len(vs) > 1 {
			return fmt.Errorf("%w: parameter %q given %d times", ErrBadQuery, k, len(vs))
		}
	}
	return nil
}

func (a *API) licenseHistory(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	q := readQuery(r, "limit", "cursor")
	limit, cursor := q.page()
	if err := q.err(); err != nil {
		a.fail(w, r, err)
		return
	}
	es, next, err := a.lg.ListLicenseHistory(r.Context(), actor(r), id, cursor, limit)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := wire.HistoryList{LicenseID: id, Entries: make([]wire.HistoryEntry, len(es)), NextCursor: encCursor(next)}
	for i := range es {
		e := &es[i]
		out.LicenseID = e.LicenseID
		out.Entries[i] = wire.HistoryEntry{Seq: e.Seq, At: e.At, Kind: e.Kind, Action: e.Action, By: e.By, UserID: e.UserID,
			ActorOf: e.ActorOf, From: e.From, To: e.To, Related: e.Related, PeriodStart: timePtr(e.PeriodStart),
			PeriodEnd: timePtr(e.PeriodEnd), DaysAdded: e.DaysAdded, Status: string(e.State.Status(e.At)),
			CustomerID: e.State.CustomerID, DeviceID: e.State.DeviceID}
	}
	a.render(w, http.StatusOK, out)
}

func (a *API) reportRenewals(w http.ResponseWriter, r *http.Request) {
	rq, err := RenewalQueryOf(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	f, t, customer := rq.From, rq.To, rq.Customer
	rows, next, err := a.lg.ReportRenewals(r.Context(), actor(r), rq)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := wire.RenewalReport{From: f.Format(time.DateOnly), To: t.Format(time.DateOnly), Customer: customer, Renewals: make([]wire.Renewal, len(rows)), NextCursor: encCursor(next)}
	for i, row := range rows {
		out.Renewals[i] = wire.Renewal{LicenseID: row.LicenseID, Serial: row.Serial, CustomerID: row.CustomerID, Chain: row.Chain,
			Months: row.Months, PeriodStart: row.PeriodStart, PeriodEnd: row.PeriodEnd, RecordedAt: row.RecordedAt,
			DistributorDescription: row.DistributorDescription}
	}
	a.render(w, http.StatusOK, out)
}

func (a *API) reportActive(w http.ResponseWriter, r *http.Request) {
	aq, err := ActiveQueryOf(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	d, reseller := aq.Day, aq.Reseller
	rows, next, err := a.lg.ReportActive(r.Context(), actor(r), aq)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := wire.ActiveReport{Reseller: reseller, Day: d.Format(time.DateOnly), Licenses: make([]wire.ActiveLicense, len(rows)), NextCursor: encCursor(next)}
	for i, row := range rows {
		out.Licenses[i] = wire.ActiveLicense{LicenseID: row.LicenseID, Serial: row.Serial, CustomerID: row.CustomerID, Chain: row.Chain,
			Type: row.Type, Billing: row.Billing, DeviceID: row.DeviceID, DistributorDescription: row.DistributorDescription}
	}
	a.render(w, http.StatusOK, out)
}

func (a *API) reportCreated(w http.ResponseWriter, r *http.Request) {
	cq, err := CreatedQueryOf(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	month, customer := cq.Month, cq.Customer
	rows, next, err := a.lg.ReportCreated(r.Context(), actor(r), cq)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := wire.CreatedReport{Customer: customer, Month: month.Format(monthLayout), Licenses: make([]wire.CreatedLicense, len(rows)), NextCursor: encCursor(next)}
	for i := range rows {
		c := &rows[i]
		out.Licenses[i] = wire.CreatedLicense{LicenseID: c.LicenseID, Serial: c.Serial, CreatedAt: c.CreatedAt, IssuedBy: c.IssuedBy,
			CreatedFor: c.CreatedFor, CreatedBy: c.CreatedBy, Type: c.Type, Billing: c.Billing, Models: c.Models,
			MaxSamplesPerHour: c.MaxSamplesPerHour, Months: c.Months, Days: c.Days, CustomerID: c.CustomerID,
			Status: string(c.Status), DistributorDescription: c.DistributorDescription}
	}
	a.render(w, http.StatusOK, out)
}
