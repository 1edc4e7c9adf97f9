package api

import (
	"net/http"

	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

func (a *API) batch(sell bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req wire.BatchRequest
		if err := decode(w, r, &req); err != nil {
			a.fail(w, r, err)
			return
		}
		in := ledger.BatchInput{CustomerID: req.Customer, IDs: req.IDs, Count: req.Count, Type: req.Type}
		var s *ledger.Sale
		var err error
		if sell {
			s, err = a.lg.Sell(r.Context(), actor(r), in)
		} else {
			s, err = a.lg.Return(r.Context(), actor(r), in)
		}
		if err != nil {
			a.fail(w, r, err)
			return
		}
		a.render(w, http.StatusOK, toSale(s))
	}
}

func (a *API) listSales(w http.ResponseWriter, r *http.Request) {
	f, err := SaleFilterOf(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	ss, next, err := a.lg.ListSales(r.Context(), actor(r), f)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := wire.SaleList{Sales: make([]wire.Sale, len(ss)), NextCursor: encCursor(next)}
	for i := range ss {
		out.Sales[i] = toSale(&ss[i])
	}
	a.render(w, http.StatusOK, out)
}

func (a *API) listAudit(w http.ResponseWriter, r *http.Request) {
	limit, cursor, err := AuditPageOf(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	es, next, err := a.lg.ListAudit(r.Context(), actor(r), cursor, limit)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := wire.AuditList{Entries: make([]wire.AuditEntry, len(es)), NextCursor: encCursor(next)}
	for i, e := range es {
		out.Entries[i] = wire.AuditEntry{Seq: e.Seq, At: e.At, UserID: e.UserID, ActorOf: e.ActorOf, Action: e.Action,
			ObjectType: e.ObjectType, ObjectID: e.ObjectID, CustomerID: e.CustomerID, Before: e.Before, After: e.After}
	}
	a.render(w, http.StatusOK, out)
}

func (a *API) deductions(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err == nil {
		err = readQuery(r).err()
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	ds, err := a.lg.ListDeductions(r.Context(), actor(r), id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := wire.DeductionList{Deductions: make([]wire.Deduction, len(ds))}
	for i, d := range ds {
		out.Deductions[i] = deductionWire(&d)
	}
	a.render(w, http.StatusOK, out)
}

func (a *API) licenseToken(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	t, err := a.lg.LicenseToken(r.Context(), actor(r), id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.render(w, http.StatusOK, toToken(t))
}

// revocationList is the current sequence and times: they name no ids, so
// every caller may read them. A list itself is signed per device
// (deviceRevocationList).
func (a *API) revocationList(w http.ResponseWriter, r *http.Request) {
	h, err := a.lg.RevocationHead(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.render(w, http.StatusOK, wire.RevocationHead{Seq: h.Seq, IssuedAt: h.IssuedAt, NextUpdate: h.NextUpdate})
}

// deviceRevocationList is the signed list of a device the caller sees:
// only that device's (and its children's) entries.
func (a *API) deviceRevocationList(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	rl, err := a.lg.DeviceRevocationList(r.Context(), actor(r), id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.render(w, http.StatusOK, wire.RevocationList{DeviceID: rl.DeviceID, Seq: rl.Seq, IssuedAt: rl.IssuedAt, NextUpdate: rl.NextUpdate,
		Revoked: rl.Revoked, Suspended: rl.Suspended, Blacklist: rl.Blacklist, Superseded: rl.Superseded, Token: rl.Token})
}

func deductionWire(d *ledger.Deduction) wire.Deduction {
	return wire.Deduction{Seq: d.Seq, DeviceID: d.DeviceID, LicenseID: d.LicenseID, At: d.At,
		ReportedAt: timePtr(d.ReportedAt), PaidUntil: timePtr(d.PaidUntil),
		DaysBefore: d.DaysBefore, DaysAfter: d.DaysAfter, Failed: d.Failed, Fork: d.Fork != ""}
}
