package api

import (
	"net/http"

	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

func toWebhook(w *ledger.Webhook) wire.Webhook {
	return wire.Webhook{ID: w.ID, CustomerID: w.CustomerID, URL: w.URL, Events: w.Events, CreatedAt: w.CreatedAt,
		FailingSince: timePtr(w.FailingSince), Disabled: w.Disabled, DisabledAt: timePtr(w.DisabledAt), DisabledReason: w.DisabledReason}
}

func toDelivery(d *ledger.Delivery) wire.Delivery {
	return wire.Delivery{ID: d.ID, EventID: d.EventID, EventType: d.EventType, WebhookID: d.WebhookID, State: d.State,
		Attempts: d.Attempts, LastStatus: d.LastStatus, LastError: d.LastError, CreatedAt: d.CreatedAt,
		LastAttemptAt: timePtr(d.LastAttemptAt), NextAt: timePtr(d.NextAt), DoneAt: timePtr(d.DoneAt)}
}

func (a *API) createWebhook(w http.ResponseWriter, r *http.Request) {
	var req wire.CreateWebhookRequest
	if err := decode(w, r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	hook, secret, err := a.lg.CreateWebhook(r.Context(), actor(r), req.CustomerID, req.URL, req.Events)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := toWebhook(hook)
	out.Secret = secret
	w.Header().Set("Cache-Control", "no-store") // the secret is shown this once
	a.render(w, http.StatusCreated, out)
}

func (a *API) listWebhooks(w http.ResponseWriter, r *http.Request) {
	q := readQuery(r, "customer")
	cust := q.id("customer")
	if err := q.err(); err != nil {
		a.fail(w, r, err)
		return
	}
	hs, err := a.lg.ListWebhooks(r.Context(), actor(r), cust)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := wire.WebhookList{Webhooks: make([]wire.Webhook, len(hs))}
	for i := range hs {
		out.Webhooks[i] = toWebhook(&hs[i])
	}
	a.render(w, http.StatusOK, out)
}

func (a *API) deleteWebhook(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.lg.DeleteWebhook(r.Context(), actor(r), id); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) testWebhook(w http.ResponseWriter, r *http.Request) {
	id, err := actionID(w, r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	d, err := a.lg.TestWebhook(r.Context(), actor(r), id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.render(w, http.StatusAccepted, toDelivery(d))
}

func (a *API) listDeliveries(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	q := readQuery(r, "limit")
	limit, err := queryLimit(q.q)
	if err == nil {
		err = q.err()
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	ds, err := a.lg.ListDeliveries(r.Context(), actor(r), id, limit)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := wire.DeliveryList{Deliveries: make([]wire.Delivery, len(ds))}
	for i := range ds {
		out.Deliveries[i] = toDelivery(&ds[i])
	}
	a.render(w, http.StatusOK, out)
}

func (a *API) redeliver(w http.ResponseWriter, r *http.Request) {
	id, err := actionID(w, r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	d, err := a.lg.Redeliver(r.Context(), actor(r), id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.render(w, http.StatusAccepted, toDelivery(d))
}

// webhookRoutes registers the webhook endpoints (docs/api.md#webhooks).
func (a *API) webhookRoutes(h func(string, http.HandlerFunc, string)) {
	h("/webhooks", a.createWebhook, http.MethodPost)
	h("/webhooks", a.listWebhooks, http.MethodGet)
	h("/webhooks/{id}", a.deleteWebhook, http.MethodDelete)
	h("/webhooks/{id}/test", a.testWebhook, http.MethodPost)
	h("/webhooks/{id}/deliveries", a.listDeliveries, http.MethodGet)
	h("/deliveries/{id}/redeliver", a.redeliver, http.MethodPost)
}
