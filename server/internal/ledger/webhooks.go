package ledger

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/store"
)

// ErrBadWebhookURL reports a webhook URL that is not an http(s) URL the
// server may call (egress.ErrBadURL, egress.ErrForbiddenAddress).
var ErrBadWebhookURL = errors.New("webhook URL refused")

// The event types a webhook endpoint can subscribe to
// (docs/webhooks.md#events).
const (
	EventLicenseExpiring      = "license.expiring"
	EventLicenseExpired       = "license.expired"
	EventLicenseRenewed       = "license.renewed"
	EventLicenseSuspended     = "license.suspended"
	EventLicenseResumed       = "license.resumed"
	EventLicenseRevoked       = "license.revoked"
	EventLicenseTransferred   = "license.transferred"
	EventDeviceBlacklisted    = "device.blacklisted"
	EventDeviceUnblacklisted  = "device.unblacklisted"
	EventDeductionFailed      = "deduction.failed"
	EventSyncOverdraft        = "sync.overdraft"
	EventSyncFork             = "sync.fork"
	EventTelemetryDiscrepancy = "telemetry.discrepancy"
	EventReportMonthly        = "report.monthly"
	// EventWebhookDisabled tells a customer's (and its superiors') other
	// endpoints that one of its endpoints was disabled for failing.
	EventWebhookDisabled = "webhook.disabled"
	// EventWebhookTest is sent by TestWebhook to one endpoint only; no
	// endpoint subscribes to it.
	EventWebhookTest = "webhook.test"
)

// EventTypes lists the subscribable event types.
var EventTypes = []string{EventLicenseExpiring, EventLicenseExpired, EventLicenseRenewed, EventLicenseSuspended,
	EventLicenseResumed, EventLicenseRevoked, EventLicenseTransferred, EventDeviceBlacklisted, EventDeviceUnblacklisted,
	EventDeductionFailed, EventSyncOverdraft, EventSyncFork, EventTelemetryDiscrepancy, EventReportMonthly, EventWebhookDisabled}

// Webhook is an endpoint a customer registered. It receives the events of
// its customer's subtree that it subscribed to.
type Webhook struct {
	ID         string    `json:"id"`
	CustomerID string    `json:"customer_id"`
	URL        string    `json:"url"`
	Events     []string  `json:"events"`
	CreatedAt  time.Time `json:"created_at"`
	// Secret signs the deliveries; it is returned once, by CreateWebhook.
	Secret string `json:"secret,omitempty"`
	// FailingSince is the first failed attempt of the current run of
	// failures (zero after a success).
	FailingSince time.Time `json:"failing_since,omitzero"`
	// Disabled is set when the endpoint failed every attempt for
	// WebhookDisableAfter; DisabledReason says so.
	Disabled       bool      `json:"disabled"`
	DisabledAt     time.Time `json:"disabled_at,omitzero"`
	DisabledReason string    `json:"disabled_reason,omitempty"`
}

func (w *Webhook) subscribes(kind string) bool {
	return !w.Disabled && slices.Contains(w.Events, kind)
}

func (w Webhook) public() Webhook {
	w.Secret = ""
	return w
}

// newWebhookSecret returns a secret in the Standard Webhooks form.
func newWebhookSecret() string {
	b := make([]byte, WebhookSecretBytes)
	if _, err := rand.Read(b); err != nil {
		panic("ledger: crypto/rand failed: " + err.Error())
	}
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

// checkEvents validates a subscription list and returns it sorted, once each.
func checkEvents(events []string) ([]string, error) {
	if len(events) == 0 {
		return nil, invalid("a webhook needs at least one event; choose from %s", strings.Join(EventTypes, ","))
	}
	var out []string
	for _, e := range events {
		if !slices.Contains(EventTypes, e) {
			return nil, invalid("unknown event %q; choose from %s", e, strings.Join(EventTypes, ","))
		}
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	slices.Sort(out)
	return out, nil
}

// CreateWebhook registers an endpoint for a customer the actor manages as
// an admin. The URL must be one the server may call (egress.Guard). The
// returned secret is shown once: it is never returned again.
func (lg *Ledger) CreateWebhook(ctx context.Context, a Actor, customerID, rawURL string, events []string) (*Webhook, string, error) {
	evs, err := checkEvents(events)
	if err != nil {
		return nil, "", err
	}
	if _, err := lg.egress.CheckURL(ctx, rawURL); err != nil {
		return nil, "", fmt.Errorf("%w: %w", ErrBadWebhookURL, err)
	}
	var out Webhook
	err = lg.update(func(o *op) error {
		c, err := o.visibleCustomer(a, customerID)
		if err != nil {
			return err
		}
		if err := o.canManage(a, c, RoleAdmin); err != nil {
			return err
		}
		n := 0
		if err := o.x.Scan(store.WebhookByCustomerPrefix(c.ID), nil, false, func(_, _ []byte) (bool, error) {
			n++
			return true, nil
		}); err != nil {
			return err
		}
		if n >= MaxWebhooksPerCustomer {
			return invalid("customer %s has %d webhooks, the most it may have; delete one first", c.ID, n)
		}
		out = Webhook{ID: "wh_" + randHex(12), CustomerID: c.ID, URL: rawURL, Events: evs, CreatedAt: o.now, Secret: newWebhookSecret()}
		if err := o.x.PutJSON(store.WebhookKey(out.ID), &out); err != nil {
			return err
		}
		if err := o.x.Put(store.WebhookByCustomerKey(c.ID, out.ID), nil); err != nil {
			return err
		}
		return o.audit(a, "webhook.create", "webhook", out.ID, c.ID, nil, out.public())
	})
	if err != nil {
		return nil, "", err
	}
	v := out.public()
	return &v, out.Secret, nil
}

// visibleWebhook loads an endpoint whose customer the actor sees.
func (o *op) visibleWebhook(a Actor, id string) (*Webhook, *Customer, error) {
	var w Webhook
	if err := o.x.GetJSON(store.WebhookKey(id), &w); err != nil {
		return nil, nil, mapNotFound(err, "webhook", id)
	}
	c, err := o.customer(w.CustomerID)
	if err != nil {
		return nil, nil, err
	}
	if !o.sees(a, c) {
		return nil, nil, notFound("webhook", id)
	}
	return &w, c, nil
}

// ListWebhooks lists the endpoints of one visible customer (the actor's
// own when empty), without their secrets.
func (lg *Ledger) ListWebhooks(ctx context.Context, a Actor, customerID string) ([]Webhook, error) {
	if customerID == "" {
		customerID = a.CustomerID
	}
	out := []Webhook{}
	err := lg.view(func(o *op) error {
		if _, err := o.visibleCustomer(a, customerID); err != nil {
			return err
		}
		return o.x.Scan(store.WebhookByCustomerPrefix(customerID), nil, false, func(k, _ []byte) (bool, error) {
			var w Webhook
			if err := o.x.GetJSON(store.WebhookKey(store.LastPart(k)), &w); err != nil {
				return false, err
			}
			out = append(out, w.public())
			return true, nil
		})
	})
	return out, err
}

// DeleteWebhook removes an endpoint; its pending deliveries fail when due.
func (lg *Ledger) DeleteWebhook(ctx context.Context, a Actor, id string) error {
	return lg.update(func(o *op) error {
		w, c, err := o.visibleWebhook(a, id)
		if err != nil {
			return err
		}
		if err := o.canManage(a, c, RoleAdmin); err != nil {
			return err
		}
		if err := o.x.Delete(store.WebhookKey(w.ID)); err != nil {
			return err
		}
		if err := o.x.Delete(store.WebhookByCustomerKey(c.ID, w.ID)); err != nil {
			return err
		}
		return o.audit(a, "webhook.delete", "webhook", w.ID, c.ID, w.public(), nil)
	})
}

// TestWebhook queues a webhook.test event to one endpoint (and no other)
// and returns its delivery.
func (lg *Ledger) TestWebhook(ctx context.Context, a Actor, id string) (*Delivery, error) {
	var out Delivery
	err := lg.update(func(o *op) error {
		w, c, err := o.visibleWebhook(a, id)
		if err != nil {
			return err
		}
		if err := o.canManage(a, c, RoleAdmin); err != nil {
			return err
		}
		ev, fresh, err := o.putEvent(EventWebhookTest, c.ID, w.ID, randHex(8), map[string]string{"webhook_id": w.ID})
		if err != nil || !fresh {
			return err
		}
		d, err := o.queueDelivery(ev, w)
		if err != nil {
			return err
		}
		out = *d
		return o.audit(a, "webhook.test", "webhook", w.ID, c.ID, nil, d)
	})
	return &out, err
}

// ListDeliveries lists the deliveries of a visible endpoint, newest first,
// at most limit.
func (lg *Ledger) ListDeliveries(ctx context.Context, a Actor, webhookID string, limit int) ([]Delivery, error) {
	limit = PageLimit(limit)
	out := []Delivery{}
	err := lg.view(func(o *op) error {
		if _, _, err := o.visibleWebhook(a, webhookID); err != nil {
			return err
		}
		return o.x.Reverse(store.DeliveryByWebhookPrefix(webhookID), nil, func(k, _ []byte) (bool, error) {
			if len(out) == limit {
				return false, nil
			}
			var d Delivery
			if err := o.x.GetJSON(store.DeliveryKey(store.LastPart(k)), &d); err != nil {
				return false, err
			}
			out = append(out, d)
			return true, nil
		})
	})
	return out, err
}

// Redeliver sends a delivery again, with the same webhook-id, as soon as
// the deliverer runs: a succeeded one once more, a failed or pending one
// with a fresh retry window.
func (lg *Ledger) Redeliver(ctx context.Context, a Actor, deliveryID string) (*Delivery, error) {
	var out Delivery
	err := lg.update(func(o *op) error {
		var d Delivery
		if err := o.x.GetJSON(store.DeliveryKey(deliveryID), &d); err != nil {
			return mapNotFound(err, "delivery", deliveryID)
		}
		w, c, err := o.visibleWebhook(a, d.WebhookID)
		if errors.Is(err, ErrNotFound) {
			return notFound("delivery", deliveryID)
		}
		if err != nil {
			return err
		}
		if err := o.canManage(a, c, RoleAdmin); err != nil {
			return err
		}
		if w.Disabled {
			return invalid("webhook %s is disabled (%s); create a new one", w.ID, w.DisabledReason)
		}
		before := d
		k := store.DeliveryDoneKey(d.DoneAt.Unix(), d.ID)
		if d.State == DeliveryPending {
			k = store.DeliveryDueKey(d.NextAt.Unix(), d.ID)
		}
		if err := o.x.Delete(k); err != nil {
			return err
		}
		d.State, d.NextAt, d.RetryFrom, d.RoundAttempts, d.DoneAt = DeliveryPending, o.now, o.now, 0, time.Time{}
		if err := o.putDelivery(&d); err != nil {
			return err
		}
		out = d
		o.wakeDeliverer = true
		return o.audit(a, "webhook.redeliver", "webhook", w.ID, c.ID, &before, &d)
	})
	return &out, err
}
