package console

import (
	"fmt"
	"net/http"
	"slices"

	"github.com/tollgate-iot/tollgate/server/internal/ledger"
)

// Batch actions on the license list: the rows ticked in the list are
// posted with an action; the first post shows what will change and asks to
// confirm, the second (confirm=yes) acts and shows each license's outcome.
// Each action is the ledger call of its API endpoint: lock and unlock are
// POST /v1/licenses/{id}/lock|unlock (one call per license), renew on and
// off POST /v1/licenses/{id}/renew, and return is POST /v1/sales/return
// with the ids (one call, all or none, one sales record).

// batchAction is an action the license list offers for the ticked rows.
type batchAction struct {
	Name, Label string
	// Verb says what happened to a license, for the outcome page.
	Verb string
	// one acts on one license; nil for return, which takes the batch.
	one func(c *Console, r *http.Request, s *ledger.Session, id string) (*ledger.LicenseView, error)
}

var batchActions = []batchAction{
	{Name: "lock", Label: "Lock", Verb: "locked", one: func(c *Console, r *http.Request, s *ledger.Session, id string) (*ledger.LicenseView, error) {
		return c.lg.SetLock(r.Context(), s.Actor, id, true)
	}},
	{Name: "unlock", Label: "Unlock", Verb: "unlocked", one: func(c *Console, r *http.Request, s *ledger.Session, id string) (*ledger.LicenseView, error) {
		return c.lg.SetLock(r.Context(), s.Actor, id, false)
	}},
	{Name: "return", Label: "Return to the parent customer", Verb: "returned"},
	{Name: "renew-on", Label: "Switch renewal on", Verb: "set to renew", one: func(c *Console, r *http.Request, s *ledger.Session, id string) (*ledger.LicenseView, error) {
		return c.lg.SetRenew(r.Context(), s.Actor, id, true)
	}},
	{Name: "renew-off", Label: "Switch renewal off", Verb: "set not to renew", one: func(c *Console, r *http.Request, s *ledger.Session, id string) (*ledger.LicenseView, error) {
		return c.lg.SetRenew(r.Context(), s.Actor, id, false)
	}},
}

func findBatchAction(name string) (batchAction, error) {
	for _, a := range batchActions {
		if a.Name == name {
			return a, nil
		}
	}
	return batchAction{}, fmt.Errorf("%w: batch action %q: choose lock, unlock, return, renew-on or renew-off", ledger.ErrInvalid, name)
}

// batchRow is one license of a batch: before (the confirm step) or after
// (the outcome).
type batchRow struct {
	ID      string
	License *ledger.LicenseView
	// Error is the refusal for this license (the API's code and message).
	Error *pageError
}

type batchData struct {
	Action batchAction
	IDs    []string
	Rows   []batchRow
	// Done is set on the outcome page; Sale is the return's sales record.
	Done bool
	Sale *ledger.Sale
	// OK counts the licenses the action changed.
	OK int
}

// batchIDs are the ticked licenses, in order, each once: 1..MaxBatch.
func batchIDs(r *http.Request) ([]string, error) {
	var ids []string
	for _, id := range r.PostForm["id"] {
		if id != "" && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("%w: no license ticked: tick the licenses in the list's first column, then choose the action", ledger.ErrInvalid)
	}
	if len(ids) > ledger.MaxBatch {
		return nil, fmt.Errorf("%w: %d licenses ticked: a batch is at most %d", ledger.ErrInvalid, len(ids), ledger.MaxBatch)
	}
	return ids, nil
}

func (c *Console) batch(w http.ResponseWriter, r *http.Request, s *ledger.Session) {
	act, err := findBatchAction(r.PostForm.Get("action"))
	var ids []string
	if err == nil {
		ids, err = batchIDs(r)
	}
	if err != nil {
		c.failErr(w, r, s, err)
		return
	}
	d := batchData{Action: act, IDs: ids}
	if r.PostForm.Get("confirm") != "yes" {
		// What will change: each license as the actor sees it now (or why it cannot).
		for _, id := range ids {
			l, err := c.lg.GetLicense(r.Context(), s.Actor, id)
			d.Rows = append(d.Rows, c.batchRowOf(id, l, err))
		}
		c.render(w, http.StatusOK, "batch", page{Title: "Confirm: " + act.Label, Session: s, Data: d})
		return
	}
	d.Done = true
	if act.one == nil {
		d.Sale, err = c.lg.Return(r.Context(), s.Actor, ledger.BatchInput{IDs: ids})
		for _, id := range ids {
			var l *ledger.LicenseView
			if err == nil {
				l, _ = c.lg.GetLicense(r.Context(), s.Actor, id) // nil when returned out of sight
			}
			d.Rows = append(d.Rows, c.batchRowOf(id, l, err))
		}
	} else {
		for _, id := range ids {
			l, err := act.one(c, r, s, id)
			d.Rows = append(d.Rows, c.batchRowOf(id, l, err))
		}
	}
	for _, row := range d.Rows {
		if row.Error == nil {
			d.OK++
		}
	}
	c.render(w, http.StatusOK, "batch", page{Title: act.Label + ": done", Session: s, Data: d})
}

func (c *Console) batchRowOf(id string, l *ledger.LicenseView, err error) batchRow {
	row := batchRow{ID: id, License: l}
	if err != nil {
		status, code, msg := describe(err)
		if status == http.StatusInternalServerError {
			c.log.Error("console: batch", "license", id, "err", err)
			msg = "internal error"
		}
		row.Error, row.License = &pageError{Status: status, Code: code, Message: msg}, nil
	}
	return row
}
