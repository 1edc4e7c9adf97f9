package broker

import "time"

const (
	// authTimeout bounds one Authorizer call at CONNECT.
	authTimeout = 2 * time.Second
	// maxTrackedConnsPerIdentity bounds the connection ids remembered per
	// identity for Kick; older ones have been replaced by reconnects.
	maxTrackedConnsPerIdentity = 8
	// publishFlushTimeout bounds Publish's wait for the broker to route a
	// server message.
	publishFlushTimeout = 2 * time.Second
	// maxFiltersPerGrant bounds the topic filters of one grant (a gateway
	// publishes for itself and each child).
	maxFiltersPerGrant = 4096
)

// Bounds of the observed telemetry counts (observed.go).
const (
	// MaxObservedKeys bounds the (device, hour) counts held in memory
	// between flushes (~100 bytes each).
	MaxObservedKeys = 65536
	// ObservedMaxAge and ObservedMaxAhead bound how far from the server's
	// clock a message's own ts may place it; beyond, it counts in the hour
	// it arrived. 31 days covers an agent's store-and-forward backlog and
	// is the longest window the telemetry view lists.
	ObservedMaxAge   = 31 * 24 * time.Hour
	ObservedMaxAhead = time.Hour
	// DefaultObservedFlushInterval is how often observed counts are
	// written to the ledger.
	DefaultObservedFlushInterval = 10 * time.Second
	// observedFinalFlushTimeout bounds the last flush at shutdown.
	observedFinalFlushTimeout = 10 * time.Second
	// maxEnvelopeHead is how far into a message the ts field is looked
	// for, and maxTSLen how long its value may be.
	maxEnvelopeHead = 512
	maxTSLen        = 40
	// MaxPendingPushes bounds the devices waiting for a token push; more
	// are dropped (counted), and get their tokens at their next sync.
	MaxPendingPushes = 10000
)

// Bounds of the external broker's service client (external.go).
const (
	// externalPublishTimeout bounds the wait for a PUBACK.
	externalPublishTimeout = 5 * time.Second
	// externalWriteTimeout bounds one packet write.
	externalWriteTimeout = 5 * time.Second
)
