package console

import (
	"net/http"

	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// The webhooks page calls what POST/GET/DELETE /v1/webhooks and GET
// /v1/webhooks/{id}/deliveries call, as the signed-in actor: managing
// endpoints is the ledger's admin right, so anyone else sees the ledger's
// refusal (forbidden) with its message; an endpoint of a customer the
// actor does not see is not_found.

// DeliveriesShown is how many deliveries an endpoint's page lists, newest
// first.
const DeliveriesShown = 100

type webhooksData struct {
	// Kind is list, created, endpoint or confirm.
	Kind     string
	Webhooks []ledger.Webhook
	Events   []string
	// Form holds what a refused create form was sent with.
	URL    string
	Picked map[string]bool
	// Hook is the endpoint created, shown or to delete; Secret the new
	// endpoint's secret (shown once).
	Hook       *ledger.Webhook
	ID         string
	Secret     string
	Deliveries []ledger.Delivery
	Deleted    bool
}

// webhooksPage renders the list with the create form; pe is a refusal of
// the form, shown above it.
func (c *Console) webhooksPage(w http.ResponseWriter, r *http.Request, s *ledger.Session, status int, pe *pageError, d webhooksData) {
	hooks, err := c.lg.ListWebhooks(r.Context(), s.Actor, "")
	if err != nil {
		c.failErr(w, r, s, err)
		return
	}
	d.Kind, d.Webhooks, d.Events = "list", hooks, ledger.EventTypes
	if d.Picked == nil {
		d.Picked = map[string]bool{}
	}
	c.render(w, status, "webhooks", page{Title: "Webhooks", Session: s, Data: d, Error: pe})
}

func (c *Console) webhooks(w http.ResponseWriter, r *http.Request, s *ledger.Session) {
	c.webhooksPage(w, r, s, http.StatusOK, nil, webhooksData{Deleted: r.URL.Query().Get("done") == "deleted"})
}

func (c *Console) createWebhook(w http.ResponseWriter, r *http.Request, s *ledger.Session) {
	req := wire.CreateWebhookRequest{CustomerID: s.Actor.CustomerID, URL: r.PostForm.Get("url"), Events: r.PostForm["events"]}
	err := req.Validate()
	var hook *ledger.Webhook
	var secret string
	if err == nil {
		hook, secret, err = c.lg.CreateWebhook(r.Context(), s.Actor, req.CustomerID, req.URL, req.Events)
	}
	if err != nil {
		status, code, msg := describe(err)
		if status == http.StatusInternalServerError {
			c.failErr(w, r, s, err)
			return
		}
		d := webhooksData{URL: req.URL, Picked: map[string]bool{}}
		for _, e := range req.Events {
			d.Picked[e] = true
		}
		c.webhooksPage(w, r, s, status, &pageError{Status: status, Code: code, Message: msg}, d)
		return
	}
	c.render(w, http.StatusCreated, "webhooks", page{Title: "Webhook created", Session: s,
		Data: webhooksData{Kind: "created", Hook: hook, Secret: secret}})
}

// ownWebhook finds an endpoint among the actor's customer's, or nil.
func (c *Console) ownWebhook(r *http.Request, s *ledger.Session, id string) (*ledger.Webhook, error) {
	hooks, err := c.lg.ListWebhooks(r.Context(), s.Actor, "")
	if err != nil {
		return nil, err
	}
	for i := range hooks {
		if hooks[i].ID == id {
			return &hooks[i], nil
		}
	}
	return nil, nil
}

func (c *Console) webhook(w http.ResponseWriter, r *http.Request, s *ledger.Session) {
	id := r.PathValue("id")
	// The ledger decides whether the actor sees the endpoint.
	ds, err := c.lg.ListDeliveries(r.Context(), s.Actor, id, DeliveriesShown)
	if err != nil {
		c.failErr(w, r, s, err)
		return
	}
	hook, err := c.ownWebhook(r, s, id)
	if err != nil {
		c.failErr(w, r, s, err)
		return
	}
	c.render(w, http.StatusOK, "webhooks", page{Title: "Webhook " + id, Session: s,
		Data: webhooksData{Kind: "endpoint", ID: id, Hook: hook, Deliveries: ds}})
}

func (c *Console) deleteWebhook(w http.ResponseWriter, r *http.Request, s *ledger.Session) {
	id := r.PathValue("id")
	if r.PostForm.Get("confirm") != "yes" {
		// The confirm step shows the endpoint as the ledger has it (a
		// sibling's is not_found here already).
		if _, err := c.lg.ListDeliveries(r.Context(), s.Actor, id, 1); err != nil {
			c.failErr(w, r, s, err)
			return
		}
		hook, err := c.ownWebhook(r, s, id)
		if err != nil {
			c.failErr(w, r, s, err)
			return
		}
		c.render(w, http.StatusOK, "webhooks", page{Title: "Delete webhook " + id, Session: s,
			Data: webhooksData{Kind: "confirm", ID: id, Hook: hook}})
		return
	}
	if err := c.lg.DeleteWebhook(r.Context(), s.Actor, id); err != nil {
		c.failErr(w, r, s, err)
		return
	}
	http.Redirect(w, r, Prefix+"webhooks?done=deleted", http.StatusSeeOther)
}
