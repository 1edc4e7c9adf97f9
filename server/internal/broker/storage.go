package broker

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
)

// ErrLimit reports a broker storage or payload limit out of its range.
var ErrLimit = errors.New("broker limit out of range")

// The stream in which nats-server keeps MQTT retained messages, as
// nats-server names and configures it (mqtt.go in nats-server).
const (
	retainedStream        = "$MQTT_rmsgs"
	retainedStreamSubject = "$MQTT.rmsgs.>"
	// retainedMaxMsgSize refuses every retained message: even an empty
	// one carries a header longer than this.
	retainedMaxMsgSize = 1
)

// validateLimits checks MaxPayload and the JetStream limits (0: default).
func (c *Config) validateLimits() error {
	if c.MaxPayload != 0 && (c.MaxPayload < MinMaxPayload || c.MaxPayload > MaxMaxPayload) {
		return fmt.Errorf("%w: max payload %d bytes, want %d..%d", ErrLimit, c.MaxPayload, MinMaxPayload, MaxMaxPayload)
	}
	if c.JetStreamMaxStore != 0 && c.JetStreamMaxStore < MinJetStreamMaxStore {
		return fmt.Errorf("%w: JetStream max store %d bytes, want at least %d", ErrLimit, c.JetStreamMaxStore, MinJetStreamMaxStore)
	}
	if c.JetStreamMaxMemory != 0 && c.JetStreamMaxMemory < MinJetStreamMaxMemory {
		return fmt.Errorf("%w: JetStream max memory %d bytes, want at least %d", ErrLimit, c.JetStreamMaxMemory, MinJetStreamMaxMemory)
	}
	return nil
}

func (c *Config) applyLimitDefaults() {
	if c.MaxPayload == 0 {
		c.MaxPayload = DefaultMaxPayload
	}
	if c.JetStreamMaxStore == 0 {
		c.JetStreamMaxStore = DefaultJetStreamMaxStore
	}
	if c.JetStreamMaxMemory == 0 {
		c.JetStreamMaxMemory = DefaultJetStreamMaxMemory
	}
}

// refuseRetained makes the broker keep no retained messages. Devices
// publish telemetry, not state: a retained message would be stored per
// topic without a bound, anywhere under the device's own topics.
// nats-server has no switch for it and handles the retain flag after the
// permission check, so the broker configures the stream nats-server
// stores retained messages in to refuse every one: a PUBLISH with the
// flag is delivered as an ordinary message and nothing is stored.
// nats-server uses the stream as it finds it (it only creates it when
// missing), so this holds whether the stream is made here or by the first
// MQTT session; retained messages an older version kept are purged.
func refuseRetained(nc *nats.Conn, timeout time.Duration, log *slog.Logger) error {
	js, err := nc.JetStream(nats.MaxWait(timeout))
	if err != nil {
		return fmt.Errorf("broker: jetstream: %w", err)
	}
	cfg := &nats.StreamConfig{
		Name:              retainedStream,
		Subjects:          []string{retainedStreamSubject},
		Storage:           nats.FileStorage,
		Retention:         nats.LimitsPolicy,
		Replicas:          1,
		MaxMsgsPerSubject: 1,
		MaxMsgSize:        retainedMaxMsgSize,
	}
	si, err := js.AddStream(cfg)
	if errors.Is(err, nats.ErrStreamNameAlreadyInUse) {
		si, err = js.UpdateStream(cfg)
	}
	if err != nil {
		return fmt.Errorf("broker: configure the retained message stream: %w", err)
	}
	if n := si.State.Msgs; n > 0 {
		if err := js.PurgeStream(retainedStream); err != nil {
			return fmt.Errorf("broker: purge retained messages: %w", err)
		}
		log.Info("purged retained messages: the broker keeps none", "messages", n)
	}
	return nil
}

// RetainedRefused returns how many retained messages the broker refused to
// store since it started.
func (b *Broker) RetainedRefused() uint64 { return b.nlog.retainedRefused.Load() }
