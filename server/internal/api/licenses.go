package api

import (
	"context"
	"net/http"

	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

func (a *API) createLicenses(w http.ResponseWriter, r *http.Request) {
	var req wire.CreateLicenseRequest
	if err := decode(w, r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	ls, err := a.lg.CreateLicenses(r.Context(), actor(r), ledger.LicenseInput{CustomerID: req.CustomerID,
		Type: req.Type, Billing: req.Billing, Months: req.Months, Days: req.Days, Models: req.Models,
		MaxSamplesPerHour: req.MaxSamplesPerHour, Enforcement: req.Enforcement, Features: req.Features,
		MaxChildren: req.MaxChildren, StartAtChildren: req.StartAtChildren, MaxOfflineSeconds: req.MaxOfflineSeconds, RetentionDays: req.RetentionDays,
		Renew: req.Renew, CancellationDays: req.CancellationDays, Alignment: req.Alignment,
		DistributorDescription: req.DistributorDescription, CustomerDescription: req.CustomerDescription, Count: req.Count})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.render(w, http.StatusCreated, wire.LicenseList{Licenses: toLicenses(ls)})
}

// licenseParams are the parameters of GET /v1/licenses; any other is refused.
var licenseParams = []string{"customer", "device", "status", "type", "billing", "expiring_within",
	"serial_prefix", "locked", "days_min", "days_max", "description",
	"activated_from", "activated_to", "ends_from", "ends_to", "limit", "cursor"}

// Bounds of the free-text filters.
const (
	maxSerialPrefix = 128
	maxDescription  = 256
)

// licenseFilter reads the filters of GET /v1/licenses.
func licenseFilter(r *http.Request) (ledger.LicenseFilter, error) {
	q := readQuery(r, licenseParams...)
	var f ledger.LicenseFilter
	f.CustomerID, f.DeviceID = q.id("customer"), q.id("device")
	if s := q.q.Get("status"); s != "" {
		if !ledger.ValidStatus(s) {
			q.fail("status %q", s)
		}
		f.Status = ledger.Status(s)
	}
	f.Type = q.oneOf("type", "standard", "trial")
	f.Billing = q.oneOf("billing", "term", "days")
	if s := q.q.Get("expiring_within"); s != "" {
		d, err := ParseWithin(s)
		if err != nil && q.bad == nil {
			q.bad = err
		}
		f.ExpiringWithin = d
	}
	f.SerialPrefix = q.text("serial_prefix", maxSerialPrefix)
	f.Description = q.text("description", maxDescription)
	f.Locked = q.boolean("locked")
	f.DaysMin, f.DaysMax = q.count("days_min", "days"), q.count("days_max", "days")
	f.ActivatedFrom, f.ActivatedTo = q.instant("activated_from"), q.instant("activated_to")
	q.period("activated_from", f.ActivatedFrom, "activated_to", f.ActivatedTo)
	f.EndsFrom, f.EndsTo = q.instant("ends_from"), q.instant("ends_to")
	q.period("ends_from", f.EndsFrom, "ends_to", f.EndsTo)
	f.Limit, f.Cursor = q.page()
	return f, q.err()
}

func (a *API) listLicenses(w http.ResponseWriter, r *http.Request) {
	f, err := licenseFilter(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	ls, next, err := a.lg.ListLicenses(r.Context(), actor(r), f)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.render(w, http.StatusOK, wire.LicenseList{Licenses: toLicenses(ls), NextCursor: encCursor(next)})
}

func (a *API) getLicense(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	l, err := a.lg.GetLicense(r.Context(), actor(r), id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.render(w, http.StatusOK, toLicense(l))
}

func (a *API) updateLicense(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var req wire.UpdateLicenseRequest
	if err := decode(w, r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	l, err := a.lg.UpdateLicense(r.Context(), actor(r), id, ledger.LicenseUpdate{
		CustomerDescription: req.CustomerDescription, DistributorDescription: req.DistributorDescription})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.render(w, http.StatusOK, toLicense(l))
}

func (a *API) deleteLicense(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err == nil {
		err = a.lg.DeleteLicense(r.Context(), actor(r), id)
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) bind(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var req wire.BindRequest
	if err := decode(w, r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	res, err := a.lg.Bind(r.Context(), actor(r), id, ledger.BindInput{DeviceID: req.DeviceID, ExpireReplaced: req.ExpireReplaced})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.render(w, http.StatusOK, wire.BindResponse{License: toLicense(&res.License), Replaced: toLicenses(res.Replaced), Token: toToken(res.Token)})
}

func (a *API) transfer(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var req wire.CustomerRef
	if err := decode(w, r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	old, nw, err := a.lg.Transfer(r.Context(), actor(r), id, req.To)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.render(w, http.StatusOK, wire.TransferResponse{Old: toLicense(old), New: toLicense(nw)})
}

// licenseAct performs one POST /v1/licenses/{id}/ACTION after decoding its body.
type licenseAct func(ctx context.Context, act ledger.Actor, id string, w http.ResponseWriter, r *http.Request) (*ledger.LicenseView, error)

func (a *API) licenseActions() map[string]licenseAct {
	plain := func(f func(context.Context, ledger.Actor, string) (*ledger.LicenseView, error)) licenseAct {
		return func(ctx context.Context, act ledger.Actor, id string, w http.ResponseWriter, r *http.Request) (*ledger.LicenseView, error) {
			if err := decodeOptional(w, r, &noBody{}); err != nil {
				return nil, err
			}
			return f(ctx, act, id)
		}
	}
	lock := func(on bool) func(context.Context, ledger.Actor, string) (*ledger.LicenseView, error) {
		return func(ctx context.Context, act ledger.Actor, id string) (*ledger.LicenseView, error) {
			return a.lg.SetLock(ctx, act, id, on)
		}
	}
	return map[string]licenseAct{
		"unbind":  plain(a.lg.Unbind),
		"lock":    plain(lock(true)),
		"unlock":  plain(lock(false)),
		"revoke":  plain(a.lg.Revoke),
		"suspend": plain(a.lg.Suspend),
		"resume":  plain(a.lg.Resume),
		"move": func(ctx context.Context, act ledger.Actor, id string, w http.ResponseWriter, r *http.Request) (*ledger.LicenseView, error) {
			var req wire.CustomerRef
			if err := decode(w, r, &req); err != nil {
				return nil, err
			}
			return a.lg.MoveLicense(ctx, act, id, req.To)
		},
		"renew": func(ctx context.Context, act ledger.Actor, id string, w http.ResponseWriter, r *http.Request) (*ledger.LicenseView, error) {
			var req wire.RenewRequest
			if err := decode(w, r, &req); err != nil {
				return nil, err
			}
			return a.lg.SetRenew(ctx, act, id, *req.Renew)
		},
		"days": func(ctx context.Context, act ledger.Actor, id string, w http.ResponseWriter, r *http.Request) (*ledger.LicenseView, error) {
			var req wire.AddDaysRequest
			if err := decode(w, r, &req); err != nil {
				return nil, err
			}
			return a.lg.AddDays(ctx, act, id, req.Days)
		},
	}
}

func (a *API) licenseAction(f licenseAct) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r, "id")
		if err != nil {
			a.fail(w, r, err)
			return
		}
		l, err := f(r.Context(), actor(r), id, w, r)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		a.render(w, http.StatusOK, toLicense(l))
	}
}
