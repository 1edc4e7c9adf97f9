package api

import (
	"net/http"

	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

func (a *API) createDevice(w http.ResponseWriter, r *http.Request) {
	var req wire.CreateDeviceRequest
	if err := decode(w, r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	d, err := a.lg.CreateDevice(r.Context(), actor(r), ledger.DeviceInput{ID: req.ID, CustomerID: req.CustomerID,
		Model: req.Model, PublicKey: req.PublicKey, GatewayID: req.GatewayID, Location: req.Location})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.render(w, http.StatusCreated, toDevice(d))
}

func (a *API) listDevices(w http.ResponseWriter, r *http.Request) {
	q := readQuery(r, "customer", "limit", "cursor")
	cust := q.id("customer")
	limit, cursor := q.page()
	if err := q.err(); err != nil {
		a.fail(w, r, err)
		return
	}
	ds, next, err := a.lg.ListDevices(r.Context(), actor(r), cust, cursor, limit)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := wire.DeviceList{Devices: make([]wire.Device, len(ds)), NextCursor: encCursor(next)}
	for i := range ds {
		out.Devices[i] = toDevice(&ds[i])
	}
	a.render(w, http.StatusOK, out)
}

func (a *API) getDevice(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	d, err := a.lg.GetDevice(r.Context(), actor(r), id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.render(w, http.StatusOK, toDevice(d))
}

func (a *API) blacklist(on bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r, "id")
		if err != nil {
			a.fail(w, r, err)
			return
		}
		var req wire.BlacklistRequest
		if err := decodeOptional(w, r, &req); err != nil {
			a.fail(w, r, err)
			return
		}
		d, err := a.lg.SetBlacklist(r.Context(), actor(r), id, on, req.Reason)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		a.render(w, http.StatusOK, toDevice(d))
	}
}

func (a *API) deviceTokens(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	ts, err := a.lg.DeviceTokens(r.Context(), actor(r), id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := wire.TokenList{DeviceID: id, Tokens: make([]wire.LicenseToken, len(ts))}
	for i := range ts {
		out.Tokens[i] = *toToken(&ts[i])
	}
	a.render(w, http.StatusOK, out)
}
