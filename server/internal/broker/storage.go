package broker

import (
	"crypto/tls"
	"errors"
	"fmt"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"time"
)

// ErrLimit reports a broker storage or payload limit out of its range.
var ErrLimit = errors.New("broker limit out of range")

// The streams in which nats-server keeps MQTT retained messages and QoS 1
// messages for subscribers, as nats-server names them (mqtt.go in
// nats-server).
const (
	retainedStream        = "$MQTT_rmsgs"
	retainedStreamSubject = "$MQTT.rmsgs.>"
	// retainedMaxMsgSize refuses every retained message: even an empty
	// one carries a header longer than this.
	retainedMaxMsgSize = 1

	queuedStream        = "$MQTT_msgs"
	queuedStreamSubject = "$MQTT.msgs.>"
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

// mqttOptions returns the options of an MQTT listener on host:port that
// refuses QoS 2 PUBLISH (the connection is closed) and serves a QoS 2
// subscription at QoS 1. A QoS 2 message waits in JetStream until its PUBREL, so a device
// sending them and never releasing could hold up to 65,535 payloads per
// session; no Tollgate client uses QoS 2. nats-server sets these only
// from a configuration text.
func mqttOptions(host string, port int, tlsConf *tls.Config) (server.MQTTOpts, error) {
	var opts server.Options
	if err := opts.ProcessConfigString("mqtt { reject_qos2_publish: true, downgrade_qos2_subscribe: true }"); err != nil {
		return server.MQTTOpts{}, fmt.Errorf("broker: mqtt options: %w", err)
	}
	opts.MQTT.Host, opts.MQTT.Port, opts.MQTT.TLSConfig = host, port, tlsConf
	return opts.MQTT, nil
}

// configureStreams sets the limits (and, in a cluster, the replicas) of
// two of the streams nats-server keeps
// MQTT state in. nats-server creates them only when missing and uses them
// as it finds them, so this holds whether a stream is made here or by the
// first MQTT session.
//
// Retained messages: none are kept. Devices publish telemetry, not state;
// a retained message would be stored per topic without a bound, anywhere
// under the device's own topics. nats-server has no switch for it and
// handles the retain flag after the permission check, so the stream
// refuses every one: a PUBLISH with the flag is delivered as an ordinary
// message and nothing is stored. Retained messages an older version kept
// are purged.
//
// QoS 1 messages waiting for subscribers (an application's persistent
// session while it is offline): at most queuedStoreShare of the JetStream
// store, the oldest dropped beyond. Unbounded, such a backlog fills the
// store, and then every QoS 1 publish that has a subscriber fails (the
// device is disconnected) and no new session can be stored, so no device
// connects.
func configureStreams(nc *nats.Conn, cfg Config, replicas int, wait time.Duration) error {
	js, err := nc.JetStream(nats.MaxWait(wait))
	if err != nil {
		return fmt.Errorf("broker: jetstream: %w", err)
	}
	si, err := putStream(js, &nats.StreamConfig{
		Name:              retainedStream,
		Subjects:          []string{retainedStreamSubject},
		Storage:           nats.FileStorage,
		Retention:         nats.LimitsPolicy,
		Replicas:          replicas,
		MaxMsgsPerSubject: 1,
		MaxMsgSize:        retainedMaxMsgSize,
	})
	if err != nil {
		return err
	}
	if n := si.State.Msgs; n > 0 {
		if err := js.PurgeStream(retainedStream); err != nil {
			return fmt.Errorf("broker: purge retained messages: %w", err)
		}
		cfg.Logger.Info("purged retained messages: the broker keeps none", "messages", n)
	}
	_, err = putStream(js, &nats.StreamConfig{
		Name:      queuedStream,
		Subjects:  []string{queuedStreamSubject},
		Storage:   nats.FileStorage,
		Retention: nats.InterestPolicy,
		Replicas:  replicas,
		MaxBytes:  cfg.JetStreamMaxStore / queuedStoreShare,
		Discard:   nats.DiscardOld,
	})
	return err
}

// putStream creates the stream, or updates it to cfg if it exists.
func putStream(js nats.JetStreamContext, cfg *nats.StreamConfig) (*nats.StreamInfo, error) {
	si, err := js.AddStream(cfg)
	if errors.Is(err, nats.ErrStreamNameAlreadyInUse) {
		si, err = js.UpdateStream(cfg)
	}
	if err != nil {
		return nil, fmt.Errorf("broker: configure stream %s: %w", cfg.Name, err)
	}
	return si, nil
}

// RetainedRefused returns how many retained messages the broker refused to
// store since it started.
func (b *Broker) RetainedRefused() uint64 { return b.nlog.retainedRefused.Load() }
