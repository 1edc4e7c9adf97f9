// Package limits names every bound of the agent in one place, so that a
// reviewer can see at a glance how much memory, disk and input any part of
// tollgate-agent may consume. Bounds shared with the server live in
// shared/limits.
package limits

import (
	"time"

	"github.com/tollgate-iot/tollgate/shared/limits"
)

const (
	// MaxIngestBodyBytes caps one POST /v1/samples body.
	MaxIngestBodyBytes = 1 << 20

	// MaxBatchSamples caps the samples of one ingest batch.
	MaxBatchSamples = 1000

	// MaxSampleDataBytes caps the JSON "data" object of one sample.
	MaxSampleDataBytes = 16 << 10

	// MaxBridgePayloadBytes caps one MQTT payload a child device publishes
	// to the bridge; larger payloads are refused unread.
	MaxBridgePayloadBytes = MaxSampleDataBytes + 1024

	// BridgeQueue bounds child messages received but not yet submitted;
	// it exceeds what local brokers keep in flight per session, so paho's
	// router does not wait on it.
	BridgeQueue = 4096

	// MaxChildren caps the child devices one gateway agent serves (shared:
	// it also bounds the revocation list signed for a gateway).
	MaxChildren = limits.MaxGatewayChildren

	// MaxRefusedByReasons caps the reasons the agent keeps per device and
	// hour for sync (shared: the server refuses a count with more).
	MaxRefusedByReasons = limits.MaxRefusedByReasons

	// MaxLicensesPerDevice caps the license tokens held for one device
	// (shared: it also bounds the revocation list signed for a device).
	MaxLicensesPerDevice = limits.MaxLicensesPerDevice

	// MaxActivationFileBytes caps a file given to `activate` (tokens and
	// revocation lists, one per line).
	MaxActivationFileBytes = 4 << 20

	// MaxConfigFileBytes caps the --config file.
	MaxConfigFileBytes = 4 << 20

	// MaxStoredRecordBytes caps any record read back from the state
	// database; a larger one means corruption.
	MaxStoredRecordBytes = 64 << 10

	// DefaultQueueMax is the default bound of the outbox in samples.
	DefaultQueueMax = 100_000

	// MaxQueueMax caps the configurable outbox bound.
	MaxQueueMax = 10_000_000

	// CommitBatchBytes caps the encoded bytes of one outbox transaction;
	// badger refuses transactions above ~15% of its memtable.
	CommitBatchBytes = 512 << 10

	// SegmentBytes caps one outbox segment: the entries of a commit are
	// stored as a few badger records rather than one per sample, which cuts
	// badger's per-sample cost; it stays under the value threshold so that
	// segments live in the LSM tree, not the value log.
	SegmentBytes = 48 << 10

	// CommitBatchSamples caps the samples grouped into one outbox commit.
	CommitBatchSamples = 1024

	// SubmitQueue is the number of ingest requests that may wait for the
	// committer before Submit blocks.
	SubmitQueue = 256

	// DefaultMaxInflight is the default number of unacknowledged QoS 1
	// publishes upstream.
	DefaultMaxInflight = 256

	// MaxInflight caps the configurable in-flight window (MQTT packet ids
	// are 16 bits; paho needs spare ones).
	MaxInflight = 16_384

	// AckRecordBatch is how many PUBACKs the publisher records in one
	// badger write while more are in flight.
	AckRecordBatch = 256
	// AckRecordLinger bounds how long a PUBACK waits to be recorded.
	AckRecordLinger = 20 * time.Millisecond
	// PublishReadChunk is how many outbox entries the publisher reads from
	// badger at once.
	PublishReadChunk = 256

	// BudgetHours is how many hourly buckets the agent keeps per device
	// (docs/design.md#enforcement-on-the-agent: at least 7 days).
	BudgetHours = 7 * 24

	// PendingReasonHours bounds, per device, the hours whose refusals by
	// reason wait for the counter flush (every second: normally one). A
	// flush failing for longer drops the oldest hour's reasons (its
	// refusals are then reported without a reason); 24 hours × 152 bytes
	// keeps a gateway of MaxChildren devices under 40 MiB even then.
	PendingReasonHours = 24

	// BudgetWindowHours is the rolling window of the sample budget.
	BudgetWindowHours = 24

	// DayLength is what one deducted day buys.
	DayLength = 24 * time.Hour

	// DefaultClockTolerance is how far the wall clock may go back behind
	// the highest time seen before the agent enters the tamper state.
	DefaultClockTolerance = time.Hour

	// MinPlausibleUnix is the earliest wall time (2025-01-01T00:00:00Z) the
	// agent takes for real; an earlier clock is treated as "not set" (a
	// gateway that boots at 1970) rather than as tampering.
	MinPlausibleUnix = 1735689600

	// ClockPersistInterval is how often the effective clock's high-water
	// mark is written when nothing else writes it.
	ClockPersistInterval = 30 * time.Second

	// CounterFlushInterval is how often refusal counters are persisted.
	CounterFlushInterval = time.Second

	// ValueLogGCInterval is how often badger's value log is collected.
	ValueLogGCInterval = 10 * time.Minute

	// StateKeyBytes is the length of the state encryption key (AES-256).
	StateKeyBytes = 32

	// HTTPReadHeaderTimeout bounds reading a local API request's headers.
	HTTPReadHeaderTimeout = 5 * time.Second
	// HTTPReadTimeout bounds reading a whole local API request.
	HTTPReadTimeout = 30 * time.Second
	// HTTPWriteTimeout bounds answering one (a commit included).
	HTTPWriteTimeout = 30 * time.Second
	// HTTPIdleTimeout closes idle keep-alive connections.
	HTTPIdleTimeout = 2 * time.Minute

	// MaxHostHeaderBytes caps the Host header the local API compares with
	// its loopback names.
	MaxHostHeaderBytes = 256

	// MinLocalTokenBytes and MaxLocalTokenBytes bound the local API token
	// (local_token_file): at least 128 bits as hex.
	MinLocalTokenBytes = 32
	MaxLocalTokenBytes = 256

	// MQTTConnectTimeout bounds one upstream or bridge CONNECT.
	MQTTConnectTimeout = 10 * time.Second

	// MQTTWriteTimeout bounds one blocking paho write.
	MQTTWriteTimeout = 10 * time.Second

	// MQTTKeepAlive is the MQTT keep-alive interval.
	MQTTKeepAlive = 30 * time.Second

	// ReconnectMin is the first reconnect delay; it doubles per failure.
	ReconnectMin = 100 * time.Millisecond
	// ReconnectMax caps the reconnect delay.
	ReconnectMax = 10 * time.Second

	// ReconnectRefusedMin is the first reconnect delay after the broker
	// refused the device (a refused CONNACK, or the agent's own state says
	// it is cut off: blacklisted, revoked, suspended, out of days); it
	// doubles per refusal up to ReconnectRefusedMax. A device that is cut
	// off costs the broker a CONNECT per ReconnectRefusedMax, not one per
	// ReconnectMax forever.
	ReconnectRefusedMin = 30 * time.Second
	ReconnectRefusedMax = 15 * time.Minute
	// FailoverPauseMax bounds the random pause before a CONNECT to the
	// next broker after one could not be reached.
	FailoverPauseMax = 500 * time.Millisecond

	// RefusalRecheck is how often a publisher waiting out a refusal the
	// agent's own state explains looks at that state again: once a sync
	// brings a usable license back it reconnects at once.
	RefusalRecheck = 5 * time.Second

	// DefaultMemoryLimitMiB is the Go soft memory limit `run` sets unless
	// GOMEMLIMIT is given: it makes the GC work harder before the agent
	// grows past what a small gateway has (measured: 1,000-child bridge
	// peaks near 48 MiB with it, ~70 MiB without).
	DefaultMemoryLimitMiB = 40

	// MaxMemoryLimitMiB caps the configurable memory limit.
	MaxMemoryLimitMiB = 1 << 20

	// LiveChunks bounds the committed chunks waiting in memory for the
	// publisher; past it the publisher reads them from badger.
	LiveChunks = 64

	// MaxPEMBytes caps a certificate or key file read for TLS.
	MaxPEMBytes = 64 << 10

	// MaxDeviceKeyFileBytes caps the device key file.
	MaxDeviceKeyFileBytes = 4 << 10

	// MaxClockSpeed caps --clock-speed (a day in under a second).
	MaxClockSpeed = 1_000_000

	// ControlTimeout bounds a CLI request to the running agent.
	ControlTimeout = 10 * time.Second

	// ControlSyncTimeout bounds `tollgate-agent sync` asking the running
	// agent to sync (a sync may send several reports).
	ControlSyncTimeout = 5 * time.Minute

	// MaxControlAnswerBytes caps the running agent's answer to the CLI.
	MaxControlAnswerBytes = 4 << 20

	// ShutdownTimeout bounds a graceful shutdown.
	ShutdownTimeout = 10 * time.Second

	// SyncInterval is the period of the background sync with the license
	// server while `run` runs; each wait is SyncInterval ± SyncJitter.
	SyncInterval = 5 * time.Minute

	// SyncJitterPercent spreads each wait by ± this share, so a fleet that
	// booted together does not sync together.
	SyncJitterPercent = 20

	// SyncFirstDelayMax bounds the random delay before the first sync
	// after `run` starts.
	SyncFirstDelayMax = 30 * time.Second

	// SyncOnConnectMinGap is the least time between the start of one sync
	// and a sync asked for because the broker connection came back: a
	// broker that drops the agent every few seconds costs the license
	// server one sync per agent per SyncOnConnectMinGap at most.
	SyncOnConnectMinGap = 30 * time.Second

	// SyncOnConnectJitterMax bounds the random delay of that sync, so that
	// a fleet reconnecting to a restarted broker does not sync at once.
	SyncOnConnectJitterMax = 15 * time.Second

	// SyncBackoffMin and SyncBackoffMax bound the exponential backoff after
	// retryable sync errors (network, 5xx, stale request).
	SyncBackoffMin = 10 * time.Second
	SyncBackoffMax = 15 * time.Minute

	// SyncHTTPTimeout bounds one sync request end to end; SyncDialTimeout
	// and SyncTLSHandshakeTimeout bound its connection set-up.
	SyncHTTPTimeout         = 60 * time.Second
	SyncDialTimeout         = 10 * time.Second
	SyncTLSHandshakeTimeout = 10 * time.Second

	// MaxSyncPages caps the reports one sync sends back to back while the
	// agent has more records than one report carries.
	MaxSyncPages = 64

	// MaxSyncErrorBytes bounds the error body of a refused sync read.
	MaxSyncErrorBytes = 64 << 10

	// CommandSuggestDistance is the largest edit distance at which a
	// mistyped command gets a "did you mean"; MaxCommandNameBytes bounds
	// the part of a mistyped name compared.
	CommandSuggestDistance = 2
	MaxCommandNameBytes    = 64
)
