package ledger

import "time"

// Bounds of webhook endpoints and their deliveries (webhooks.go, events.go).
const (
	// MaxWebhooksPerCustomer caps the endpoints one customer registers.
	MaxWebhooksPerCustomer = 20
	// WebhookSecretBytes is the random part of an endpoint secret.
	WebhookSecretBytes = 32
	// DeliveryRetryWindow is how long a delivery is retried before it is
	// failed for good (visible in webhook deliveries; redeliver starts a
	// new window).
	DeliveryRetryWindow = 72 * time.Hour
	// DeliveryFirstBackoff is the wait after a first failed attempt; it
	// doubles with every further failure up to DeliveryMaxBackoff, and
	// each wait is jittered by up to a quarter either way.
	DeliveryFirstBackoff = 30 * time.Second
	DeliveryMaxBackoff   = 6 * time.Hour
	// WebhookDisableAfter is how long an endpoint may fail every attempt
	// before it is disabled; its pending deliveries then fail.
	WebhookDisableAfter = 5 * 24 * time.Hour
	// MaxDeliveryErrorLen caps the error text kept with an attempt.
	MaxDeliveryErrorLen = 256
	// MaxDueDeliveries caps the deliveries one DueDeliveries call returns.
	MaxDueDeliveries = 100
	// OutboxRetention is how long a finished delivery, and an event, is
	// kept (webhook deliveries lists them) before PruneOutbox deletes it.
	OutboxRetention = 30 * 24 * time.Hour
	// MaxOutboxPrune caps the deliveries, and the events, one PruneOutbox
	// call deletes (a transaction well inside badger's batch limit of the
	// small profile); the next call continues.
	MaxOutboxPrune = 500
)
