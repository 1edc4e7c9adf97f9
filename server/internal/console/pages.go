package console

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/tollgate-iot/tollgate/server/internal/api"
	"github.com/tollgate-iot/tollgate/server/internal/ledger"
)

// Every page below calls the ledger method its API endpoint calls, as the
// signed-in actor: GET /v1/stats, GET /v1/licenses, GET /v1/licenses/{id}
// and its history, POST /v1/sales/sell.

type dashboardData struct {
	Stats *ledger.Stats
	Pies  []pie
	// Recent is the latest deductions and notices (recent.go).
	Recent recentData
}

func (c *Console) dashboard(w http.ResponseWriter, r *http.Request, s *ledger.Session) {
	st, err := c.lg.Stats(r.Context(), s.Actor, "")
	if err != nil {
		c.failErr(w, r, s, err)
		return
	}
	status := make(map[string]int64, len(st.ByStatus))
	for k, n := range st.ByStatus {
		status[string(k)] = n
	}
	d := dashboardData{Stats: st, Pies: []pie{
		newPie("by-status", "Licenses by status", "status", status),
		newPie("by-type", "Licenses by type", "type", st.ByType),
		newPie("by-billing", "Licenses by billing", "billing", st.ByBilling),
	}}
	if d.Recent, err = c.recentOf(r.Context(), s.Actor); err != nil {
		c.failErr(w, r, s, err)
		return
	}
	c.render(w, http.StatusOK, "dashboard", page{Title: "Dashboard", Session: s, Data: d})
}

// licenseFilterFields are the list's filters, as GET /v1/licenses names them.
var licenseFilterFields = []string{"serial_prefix", "status", "type", "billing", "locked", "expiring_within", "days_min", "days_max", "customer", "device"}

type licensesData struct {
	Licenses []ledger.LicenseView
	// Query is the filter as given (to refill the form); Next links the
	// next page, First the first one (both "" when there is none).
	Query       url.Values
	Next, First string
	Statuses    []ledger.Status
	// Actions are the batch actions offered for the ticked rows.
	Actions []batchAction
}

func (c *Console) licenses(w http.ResponseWriter, r *http.Request, s *ledger.Session) {
	q, clean := formQuery(r, licenseFilterFields...)
	f, err := api.LicenseFilterOf(clean)
	if err != nil {
		c.failErr(w, r, s, err)
		return
	}
	ls, next, err := c.lg.ListLicenses(r.Context(), s.Actor, f)
	if err != nil {
		c.failErr(w, r, s, err)
		return
	}
	d := licensesData{Licenses: ls, Query: q, Statuses: allStatuses, Actions: batchActions}
	d.Next, d.First = pageLinks("licenses", q, f.Cursor, next)
	c.render(w, http.StatusOK, "licenses", page{Title: "Licenses", Session: s, Data: d})
}

var allStatuses = []ledger.Status{ledger.StatusUnused, ledger.StatusInactive, ledger.StatusPendingStart, ledger.StatusActive,
	ledger.StatusDeactivated, ledger.StatusExpired, ledger.StatusSuspended, ledger.StatusRevoked, ledger.StatusTransferred}

type licenseData struct {
	License *ledger.LicenseView
	History []ledger.HistoryEntry
	More    bool
	// Extra is the deductions, notices and actions (licensepage.go).
	Extra licenseExtra
	// Done is the notice after an action; Confirm names the action the
	// page asks to confirm ("unbind"), "" for none.
	Done, Confirm string
}

func (c *Console) license(w http.ResponseWriter, r *http.Request, s *ledger.Session) {
	c.licensePage(w, r, s, r.PathValue("id"), http.StatusOK, nil, "")
}

// licensePage renders a license with its history, an optional refusal and
// an optional confirm step.
func (c *Console) licensePage(w http.ResponseWriter, r *http.Request, s *ledger.Session, id string, status int, perr *pageError, confirm string) {
	l, err := c.lg.GetLicense(r.Context(), s.Actor, id)
	if err != nil {
		c.failErr(w, r, s, err)
		return
	}
	h, next, err := c.lg.ListLicenseHistory(r.Context(), s.Actor, l.ID, "", HistoryShown)
	if err != nil {
		c.failErr(w, r, s, err)
		return
	}
	d := licenseData{License: l, History: h, More: next != "", Confirm: confirm}
	if d.Extra, err = c.licenseExtraOf(r.Context(), s.Actor, l); err != nil {
		c.failErr(w, r, s, err)
		return
	}
	d.Extra.confirming(confirm)
	if perr == nil {
		d.Done = doneNotices[r.URL.Query().Get("done")] + licenseActDone[r.URL.Query().Get("done")]
	}
	c.render(w, status, "license", page{Title: "License " + l.Serial, Session: s, Data: d, Error: perr})
}

type sellData struct {
	CustomerID, Type string
	Count            int
	// Confirm is set on the confirm step; Sale after the sale.
	Confirm  bool
	Sale     *ledger.Sale
	MaxBatch int
}

func (c *Console) sellPage(w http.ResponseWriter, r *http.Request, s *ledger.Session) {
	c.render(w, http.StatusOK, "sell", page{Title: "Sell licenses", Session: s, Data: sellData{Type: "standard", Count: 1, MaxBatch: ledger.MaxBatch}})
}

// sell sells licenses by quantity in two steps: the first post shows what
// will be sold and asks to confirm; the second (confirm=yes) sells.
func (c *Console) sell(w http.ResponseWriter, r *http.Request, s *ledger.Session) {
	f := r.PostForm
	d := sellData{CustomerID: f.Get("customer"), Type: f.Get("type"), MaxBatch: ledger.MaxBatch}
	n, err := strconv.Atoi(f.Get("count"))
	if err != nil {
		err = fmt.Errorf("%w: count %q: want a whole number", ledger.ErrInvalid, f.Get("count"))
	}
	d.Count = n
	if err == nil && f.Get("confirm") != "yes" {
		d.Confirm = true
		c.render(w, http.StatusOK, "sell", page{Title: "Confirm the sale", Session: s, Data: d})
		return
	}
	if err == nil {
		d.Sale, err = c.lg.Sell(r.Context(), s.Actor, ledger.BatchInput{CustomerID: d.CustomerID, Count: n, Type: d.Type})
	}
	if err != nil {
		status, code, msg := describe(err)
		if status == http.StatusInternalServerError {
			c.failErr(w, r, s, err)
			return
		}
		c.render(w, status, "sell", page{Title: "Sell licenses", Session: s, Data: d, Error: &pageError{Status: status, Code: code, Message: msg}})
		return
	}
	c.render(w, http.StatusOK, "sell", page{Title: "Sold", Session: s, Data: d})
}
