package broker

import (
	"time"

	"github.com/tollgate-iot/tollgate/shared/limits"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

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
	// RefusedConnectLogInterval is how often a refused CONNECT of one
	// client is logged at INFO (log.go); the refusals between are logged
	// at debug and counted in the next INFO line.
	RefusedConnectLogInterval = 10 * time.Minute
	// MaxRefusalLogClients bounds the clients whose last logged refusal
	// is remembered (~100 bytes each).
	MaxRefusalLogClients = 10000
)

// Bounds of what the embedded broker stores and accepts (storage.go).
const (
	// DefaultMaxPayload caps one message on the broker: a device's publish
	// and the server's own pushes alike (nats-server has one max_payload).
	// A push carries up to 64 tokens and the revocation list; 1 MiB holds
	// a list of some 15,000 revoked license ids.
	DefaultMaxPayload = 1 << 20
	// MinMaxPayload is the smallest MaxPayload: a telemetry envelope of
	// the largest size consumers accept, plus the broker's header.
	MinMaxPayload = wire.MaxTelemetryBytes + mqttHeaderAllowance
	// MaxMaxPayload is the largest MaxPayload: a push with the largest
	// signed document, with room for its header.
	MaxMaxPayload = limits.MaxSignedDocumentBytes + mqttHeaderAllowance
	// mqttHeaderAllowance is what nats-server adds to an MQTT payload
	// before comparing it with max_payload (its header with the QoS and,
	// for QoS 2, the subject).
	mqttHeaderAllowance = 1 << 10

	// DefaultJetStreamMaxStore caps the disk JetStream uses (MQTT
	// sessions, QoS 1 messages waiting for offline persistent
	// subscribers).
	DefaultJetStreamMaxStore = 1 << 30
	// MinJetStreamMaxStore leaves room for the MQTT streams themselves.
	MinJetStreamMaxStore = 16 << 20
	// DefaultJetStreamMaxMemory caps JetStream's memory storage; the MQTT
	// streams are on disk, so little is used.
	DefaultJetStreamMaxMemory = 64 << 20
	// MinJetStreamMaxMemory is the smallest memory limit accepted.
	MinJetStreamMaxMemory = 1 << 20
	// queuedStoreShare: QoS 1 messages waiting for subscribers may use
	// 1/queuedStoreShare of the JetStream store, the oldest dropped
	// beyond, so that sessions always find room.
	queuedStoreShare = 2
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
