package wire

import (
	"strings"
	"time"
)

// Bounds of webhook requests.
const (
	// MaxWebhookURLLen caps a webhook URL.
	MaxWebhookURLLen = 2048
	// MaxWebhookEvents caps the event types one endpoint lists.
	MaxWebhookEvents = 32
)

// CreateWebhookRequest registers a webhook endpoint for a customer.
type CreateWebhookRequest struct {
	CustomerID string   `json:"customer_id"`
	URL        string   `json:"url"`
	Events     []string `json:"events"`
}

// Validate checks the request on its own; the server checks the URL's
// address and the event names.
func (r *CreateWebhookRequest) Validate() error {
	if err := checkID("customer_id", r.CustomerID, true); err != nil {
		return err
	}
	if r.URL == "" || len(r.URL) > MaxWebhookURLLen {
		return invalid("url is required, at most %d bytes", MaxWebhookURLLen)
	}
	if len(r.Events) == 0 || len(r.Events) > MaxWebhookEvents {
		return invalid("events: between 1 and %d event types", MaxWebhookEvents)
	}
	for _, e := range r.Events {
		if e == "" || len(e) > 64 || strings.ContainsAny(e, " ,") {
			return invalid("event %q is not an event type", e)
		}
	}
	return nil
}

// Webhook is a registered endpoint. Secret is set only in the answer to
// its creation: it is shown once.
type Webhook struct {
	ID             string     `json:"id"`
	CustomerID     string     `json:"customer_id"`
	URL            string     `json:"url"`
	Events         []string   `json:"events"`
	CreatedAt      time.Time  `json:"created_at"`
	Secret         string     `json:"secret,omitempty"`
	FailingSince   *time.Time `json:"failing_since,omitempty"`
	Disabled       bool       `json:"disabled"`
	DisabledAt     *time.Time `json:"disabled_at,omitempty"`
	DisabledReason string     `json:"disabled_reason,omitempty"`
}

// WebhookList is the answer to GET /v1/webhooks.
type WebhookList struct {
	Webhooks []Webhook `json:"webhooks"`
}

// Delivery is one event to one endpoint and the state of its attempts.
type Delivery struct {
	ID            string     `json:"id"`
	EventID       string     `json:"event_id"`
	EventType     string     `json:"event_type"`
	WebhookID     string     `json:"webhook_id"`
	State         string     `json:"state"`
	Attempts      int        `json:"attempts"`
	LastStatus    int        `json:"last_status,omitempty"`
	LastError     string     `json:"last_error,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	LastAttemptAt *time.Time `json:"last_attempt_at,omitempty"`
	NextAt        *time.Time `json:"next_at,omitempty"`
	DoneAt        *time.Time `json:"done_at,omitempty"`
}

// DeliveryList is the answer to GET /v1/webhooks/{id}/deliveries, newest
// first.
type DeliveryList struct {
	Deliveries []Delivery `json:"deliveries"`
}
