package notify

import "time"

// Bounds of webhook delivery.
const (
	// DeliveryTimeout bounds one attempt: connecting, sending and reading
	// the answer's head. A receiver slower than this fails the attempt.
	DeliveryTimeout = 10 * time.Second
	// MaxResponseRead caps what is read of a receiver's answer body (it
	// is discarded; reading some lets the connection be reused).
	MaxResponseRead = 4 << 10
	// MaxConcurrent caps the attempts in flight at once.
	MaxConcurrent = 8
	// maxBatchesPerPass bounds one pass, so a backlog is worked off over
	// several passes, in between which new deliveries get their turn.
	maxBatchesPerPass = 50
	// DefaultInterval is how often the deliverer looks for due retries
	// when nothing wakes it.
	DefaultInterval = 5 * time.Second
)
