// Package limits names every bound of firmware-sim in one place: what its
// flags accept and how much it reads from the agents it drives.
package limits

import "time"

const (
	// MaxTargets caps the agents one run drives (--agent and --data).
	MaxTargets = 1000

	// MaxDevices caps the simulated devices of one run.
	MaxDevices = 100_000

	// MaxRate caps --rate, samples per simulated hour per device.
	MaxRate = 100_000

	// MaxClockSpeed caps --clock-speed; it matches tollgate-agent's.
	MaxClockSpeed = 1_000_000

	// MinDuration and MaxDuration bound --duration (simulated time).
	MinDuration = time.Minute
	MaxDuration = 366 * 24 * time.Hour

	// MaxRealDuration caps how long a run may take in real time
	// (duration ÷ clock speed), so that a typo does not run for a year.
	MaxRealDuration = 7 * 24 * time.Hour

	// MaxBatchSamples is the most samples one POST /v1/samples carries; it
	// is the agent's own cap.
	MaxBatchSamples = 1000

	// MaxResponseBytes caps an agent's answer to POST /v1/samples.
	MaxResponseBytes = 1 << 20

	// MaxStatusBytes caps an agent's GET /v1/status answer (a gateway with
	// 10,000 children and a week of hourly counts each).
	MaxStatusBytes = 64 << 20

	// MaxAddrFileBytes caps DATA/agent.addr.
	MaxAddrFileBytes = 512

	// MaxArgBytes caps any single flag value.
	MaxArgBytes = 4096

	// MaxTokenFileBytes caps the agents' local API token file
	// (--agent-token-file); the agent takes tokens of at most 256 bytes.
	MaxTokenFileBytes = 1024

	// MaxBridgeInflight bounds QoS 1 publishes to a local broker awaiting
	// their PUBACK, per gateway.
	MaxBridgeInflight = 1000

	// MinTick and MaxTick bound --tick, the real-time step of the drivers.
	MinTick = 10 * time.Millisecond
	MaxTick = 10 * time.Second

	// DefaultTick is the default --tick.
	DefaultTick = 100 * time.Millisecond

	// RequestTimeout caps one HTTP request to an agent.
	RequestTimeout = 30 * time.Second

	// DrainTimeout caps how long the run waits, after the last sample, for
	// the agents to account for every sample and empty their outboxes.
	DrainTimeout = 2 * time.Minute

	// DrainStall is how long an agent's outbox may stop shrinking before
	// the run stops waiting for it (its broker refuses it).
	DrainStall = 3 * time.Second

	// InterruptSettle caps reading the agents' status after Ctrl-C.
	InterruptSettle = 5 * time.Second

	// MQTTConnectTimeout caps connecting to a gateway's local broker.
	MQTTConnectTimeout = 10 * time.Second

	// BridgeReadyTimeout caps waiting for a gateway's bridge to receive the
	// probe; ProbeInterval paces the probes.
	BridgeReadyTimeout = 60 * time.Second
	ProbeInterval      = 200 * time.Millisecond

	// BridgeBlindWait is how long firmware-sim waits for a bridge it cannot
	// watch (the agent's /metrics is on a separate address).
	BridgeBlindWait = 3 * time.Second

	// StatusPoll paces reading the agents' status while they drain.
	StatusPoll = 100 * time.Millisecond

	// MaxOriginAge is how far in the past --clock-origin may lie (the
	// agents' origin: a simulation running for days of real time).
	MaxOriginAge = 30 * 24 * time.Hour

	// MaxDurationDays caps the whole days of a --duration ("3d").
	MaxDurationDays = 100_000

	// MaxTimeArgBytes caps --duration and --clock-origin.
	MaxTimeArgBytes = 64

	// MaxReasonBytes caps a refusal reason in an agent's answer.
	MaxReasonBytes = 64
)
