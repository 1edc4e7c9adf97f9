package ledger

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/store"
)

// Event is one fact the outbox tells webhooks about. Its id is derived
// from what it is about (type, subject, and what tells this occurrence
// from another), so a transaction that runs again finds it stored and
// makes no second one; receivers dedupe on it.
type Event struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	CustomerID string          `json:"customer_id"`
	Subject    string          `json:"subject"`
	At         time.Time       `json:"timestamp"`
	Data       json.RawMessage `json:"data"`
}

// The states of a delivery.
const (
	DeliveryPending   = "pending"
	DeliverySucceeded = "succeeded"
	DeliveryFailed    = "failed"
)

// Delivery is one event to one endpoint: every attempt sends the event
// with the same webhook-id.
type Delivery struct {
	ID         string `json:"id"`
	Seq        int64  `json:"seq"`
	EventID    string `json:"event_id"`
	EventType  string `json:"event_type"`
	WebhookID  string `json:"webhook_id"`
	CustomerID string `json:"customer_id"` // the endpoint's customer
	State      string `json:"state"`
	Attempts   int    `json:"attempts"`
	// RoundAttempts counts the attempts since RetryFrom (the backoff).
	RoundAttempts int       `json:"round_attempts"`
	LastStatus    int       `json:"last_status,omitempty"`
	LastError     string    `json:"last_error,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
	RetryFrom     time.Time `json:"retry_from"`
	LastAttemptAt time.Time `json:"last_attempt_at,omitzero"`
	NextAt        time.Time `json:"next_at,omitzero"`
	DoneAt        time.Time `json:"done_at,omitzero"`
}

// eventID is the stable id of the event of type kind about subject,
// told apart from others about it by occurrence.
func eventID(kind, subject, occurrence string) string {
	h := sha256.Sum256([]byte(kind + "\x00" + subject + "\x00" + occurrence))
	return "evt_" + hex.EncodeToString(h[:16])
}

// putEvent stores an event once; fresh is false when it existed (the
// same fact recorded again).
func (o *op) putEvent(kind, customerID, subject, occurrence string, data any) (*Event, bool, error) {
	ev := &Event{ID: eventID(kind, subject, occurrence), Type: kind, CustomerID: customerID, Subject: subject, At: o.now}
	if seen, err := o.x.Has(store.EventKey(ev.ID)); err != nil || seen {
		return ev, false, err
	}
	b, err := json.Marshal(data)
	if err != nil {
		return nil, false, fmt.Errorf("ledger: event data: %w", err)
	}
	ev.Data = b
	if err := o.x.Put(store.EventAtKey(ev.At.Unix(), ev.ID), nil); err != nil {
		return nil, false, err
	}
	return ev, true, o.x.PutJSON(store.EventKey(ev.ID), ev)
}

// emit records an event of the customers' (the owner's; a transfer names
// both sides) and queues a delivery to every endpoint that subscribed to
// it, of those customers and every ancestor: a distributor hears its
// subtree, a sibling nothing. It runs in the transaction of the fact.
func (o *op) emit(kind, subject, occurrence string, data any, customers ...string) error {
	ev, fresh, err := o.putEvent(kind, customers[0], subject, occurrence, data)
	if err != nil || !fresh {
		return err
	}
	done := map[string]bool{}
	for _, id := range customers {
		c, err := o.customer(id)
		if err != nil {
			return err
		}
		for _, cid := range append(slices.Clone(c.Path), c.ID) {
			if done[cid] {
				continue
			}
			done[cid] = true
			if err := o.fanOut(ev, cid); err != nil {
				return err
			}
		}
	}
	return nil
}

func (o *op) fanOut(ev *Event, customerID string) error {
	var hooks []Webhook
	err := o.x.Scan(store.WebhookByCustomerPrefix(customerID), nil, false, func(k, _ []byte) (bool, error) {
		var w Webhook
		if err := o.x.GetJSON(store.WebhookKey(store.LastPart(k)), &w); err != nil {
			return false, err
		}
		if w.subscribes(ev.Type) {
			hooks = append(hooks, w)
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	for i := range hooks {
		if _, err := o.queueDelivery(ev, &hooks[i]); err != nil {
			return err
		}
	}
	return nil
}

// queueDelivery makes the delivery of ev to w, due now.
func (o *op) queueDelivery(ev *Event, w *Webhook) (*Delivery, error) {
	h := sha256.Sum256([]byte(ev.ID + "\x00" + w.ID))
	d := &Delivery{ID: "dlv_" + hex.EncodeToString(h[:12]), EventID: ev.ID, EventType: ev.Type, WebhookID: w.ID,
		CustomerID: w.CustomerID, State: DeliveryPending, CreatedAt: o.now, RetryFrom: o.now, NextAt: o.now}
	seq, err := o.x.NextSeq("delivery")
	if err != nil {
		return nil, err
	}
	d.Seq = seq
	if err := o.x.Put(store.DeliveryByWebhookKey(w.ID, seq, d.ID), nil); err != nil {
		return nil, err
	}
	o.wakeDeliverer = true
	return d, o.putDelivery(d)
}

// putDelivery writes d and, while it is pending, its place in the queue;
// once finished, its place in the pruning index.
func (o *op) putDelivery(d *Delivery) error {
	if err := o.x.PutJSON(store.DeliveryKey(d.ID), d); err != nil {
		return err
	}
	if d.State == DeliveryPending {
		return o.x.Put(store.DeliveryDueKey(d.NextAt.Unix(), d.ID), nil)
	}
	return o.x.Put(store.DeliveryDoneKey(d.DoneAt.Unix(), d.ID), nil)
}

// DueDelivery is a delivery to attempt: where to, with what secret, and
// the exact body (the same bytes on every attempt).
type DueDelivery struct {
	Delivery Delivery
	URL      string
	Secret   string
	Body     []byte
}

// DueDeliveries returns up to limit pending deliveries whose next attempt
// is due, oldest due first. A delivery whose endpoint was deleted or
// disabled is failed here instead.
func (lg *Ledger) DueDeliveries(ctx context.Context, limit int) ([]DueDelivery, error) {
	limit = min(max(limit, 1), MaxDueDeliveries)
	var out []DueDelivery
	var orphans []string
	err := lg.view(func(o *op) error {
		now := o.now.Unix()
		return o.x.Scan(store.DeliveryDuePrefix(), nil, false, func(k, _ []byte) (bool, error) {
			at, id, ok := store.TimedParts(store.DeliveryDuePrefix(), k)
			if !ok || at > now || len(out) == limit {
				return false, nil
			}
			var d Delivery
			if err := o.x.GetJSON(store.DeliveryKey(id), &d); err != nil {
				return false, err
			}
			var w Webhook
			err := o.x.GetJSON(store.WebhookKey(d.WebhookID), &w)
			if errors.Is(err, store.ErrNotFound) || err == nil && w.Disabled {
				orphans = append(orphans, d.ID)
				return true, nil
			}
			if err != nil {
				return false, err
			}
			var ev Event
			err = o.x.GetJSON(store.EventKey(d.EventID), &ev)
			if errors.Is(err, store.ErrNotFound) { // pruned: redelivered past the outbox's retention
				orphans = append(orphans, d.ID)
				return true, nil
			}
			if err != nil {
				return false, err
			}
			body, err := json.Marshal(&ev)
			if err != nil {
				return false, err
			}
			out = append(out, DueDelivery{Delivery: d, URL: w.URL, Secret: w.Secret, Body: body})
			return true, nil
		})
	})
	if err != nil {
		return nil, err
	}
	for _, id := range orphans {
		if err := lg.recordAttempt(id, 0, "endpoint deleted or disabled, or event pruned", true); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// backoff is the wait after the n-th failed attempt of a round: doubling
// from base (DeliveryFirstBackoff unless configured) up to DeliveryMaxBackoff, jittered by up to a
// quarter either way so that endpoints that failed together do not retry
// together.
func backoff(n int, base time.Duration) time.Duration {
	d := base
	for i := 1; i < n && d < DeliveryMaxBackoff; i++ {
		d *= 2
	}
	d = min(d, DeliveryMaxBackoff)
	j := time.Duration(rand.Int64N(int64(d)/2+1)) - d/4
	return max(d+j, time.Second)
}

// RecordAttempt records the outcome of one attempt of a pending delivery:
// status is the HTTP status (0 when no answer came), errText why it
// failed. A 2xx succeeds; anything else is retried with backoff until
// DeliveryRetryWindow has passed, then failed. An endpoint that failed
// every attempt for WebhookDisableAfter is disabled. A delivery that is no
// longer pending (redelivered meanwhile and done) is left alone.
func (lg *Ledger) RecordAttempt(ctx context.Context, deliveryID string, status int, errText string) error {
	return lg.recordAttempt(deliveryID, status, errText, false)
}

// recordAttempt records an attempt; orphan fails a delivery whose
// endpoint is gone or disabled without counting against the endpoint.
func (lg *Ledger) recordAttempt(deliveryID string, status int, errText string, orphan bool) error {
	if len(errText) > MaxDeliveryErrorLen {
		errText = errText[:MaxDeliveryErrorLen]
	}
	return lg.update(func(o *op) error {
		var d Delivery
		if err := o.x.GetJSON(store.DeliveryKey(deliveryID), &d); err != nil {
			return mapNotFound(err, "delivery", deliveryID)
		}
		if d.State != DeliveryPending {
			return nil
		}
		if err := o.x.Delete(store.DeliveryDueKey(d.NextAt.Unix(), d.ID)); err != nil {
			return err
		}
		d.Attempts++
		d.RoundAttempts++
		d.LastAttemptAt, d.LastStatus, d.LastError = o.now, status, errText
		var w Webhook
		werr := o.x.GetJSON(store.WebhookKey(d.WebhookID), &w)
		if werr != nil && !errors.Is(werr, store.ErrNotFound) {
			return werr
		}
		ok := status >= 200 && status < 300
		switch {
		case ok:
			d.State, d.DoneAt, d.NextAt, d.LastError = DeliverySucceeded, o.now, time.Time{}, ""
		case orphan || werr != nil || w.Disabled || o.now.Sub(d.RetryFrom) >= DeliveryRetryWindow:
			d.State, d.DoneAt, d.NextAt = DeliveryFailed, o.now, time.Time{}
		default:
			d.NextAt = o.now.Add(backoff(d.RoundAttempts, o.lg.retry))
		}
		if err := o.putDelivery(&d); err != nil {
			return err
		}
		if werr != nil || orphan {
			return nil
		}
		return o.endpointOutcome(&w, ok)
	})
}

// endpointOutcome keeps the endpoint's run of failures and disables it
// when the run has lasted WebhookDisableAfter.
func (o *op) endpointOutcome(w *Webhook, ok bool) error {
	before := *w
	switch {
	case ok && w.FailingSince.IsZero(), !ok && !w.FailingSince.IsZero() && o.now.Sub(w.FailingSince) < WebhookDisableAfter:
		return nil
	case ok:
		w.FailingSince = time.Time{}
	case w.FailingSince.IsZero():
		w.FailingSince = o.now
	default:
		w.Disabled, w.DisabledAt = true, o.now
		w.DisabledReason = fmt.Sprintf("every attempt failed since %s", w.FailingSince.Format(time.RFC3339))
		o.lg.log.Warn("webhook disabled: failing for days", "webhook_id", w.ID, "customer_id", w.CustomerID, "failing_since", w.FailingSince)
		if err := o.audit(SystemActor(), "webhook.disable", "webhook", w.ID, w.CustomerID, before.public(), w.public()); err != nil {
			return err
		}
		if err := o.x.PutJSON(store.WebhookKey(w.ID), w); err != nil {
			return err
		}
		if err := o.noticeWebhookDisabled(w); err != nil {
			return err
		}
		// Written first: the disabled endpoint is not told about itself.
		return o.emit(EventWebhookDisabled, w.ID, "", map[string]string{"webhook_id": w.ID, "customer_id": w.CustomerID,
			"url": w.URL, "reason": w.DisabledReason}, w.CustomerID)
	}
	return o.x.PutJSON(store.WebhookKey(w.ID), w)
}
