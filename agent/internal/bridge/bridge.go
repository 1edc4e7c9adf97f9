// Package bridge is the gateway's bridge mode: it subscribes to a local
// MQTT broker that child devices (which cannot run the agent) publish to,
// and sends each child's samples through the same gate and outbox as local
// ingest, enforcing each child's own licenses.
//
// The bridge subscribes at QoS 1 with a persistent session, so the local
// broker keeps children's samples while the agent restarts. Messages are
// dispatched in arrival order to one worker that submits whatever has
// queued up as one batch and acknowledges each message (manual acks) only
// after its sample was committed to the outbox or refused: a crash between
// the two makes the local broker redeliver, never lose. Each child's
// samples keep their order.
package bridge

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/tollgate-iot/tollgate/agent/internal/limits"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// Submitter is the ingest path.
type Submitter interface {
	Submit(ctx context.Context, samples []wire.Sample) ([]wire.Result, error)
}

// Options configures a Bridge.
type Options struct {
	// Broker is the local broker, tcp://HOST:PORT.
	Broker string
	// ClientID names the bridge's persistent session on the local broker.
	ClientID string
	Ingest   Submitter
	Logger   *slog.Logger
}

// Bridge relays child devices' samples. Counters are safe to read
// concurrently.
type Bridge struct {
	o        Options
	log      *slog.Logger
	queue    chan mqtt.Message
	received atomic.Int64
	invalid  atomic.Int64
	accepted atomic.Int64
}

// New returns a bridge; Run starts it.
func New(o Options) *Bridge {
	b := &Bridge{o: o, log: o.Logger, queue: make(chan mqtt.Message, limits.BridgeQueue)}
	if b.log == nil {
		b.log = slog.Default()
	}
	return b
}

// Received, Invalid and Accepted count child messages since start.
func (b *Bridge) Received() int64 { return b.received.Load() }

// Invalid counts child messages that did not parse.
func (b *Bridge) Invalid() int64 { return b.invalid.Load() }

// Accepted counts child samples accepted.
func (b *Bridge) Accepted() int64 { return b.accepted.Load() }

// Run subscribes until ctx ends. paho reconnects by itself here: the
// bridge keeps no outbox of its own (the local broker's persistent session
// holds what the bridge has not acknowledged).
func (b *Bridge) Run(ctx context.Context) error {
	opts := mqtt.NewClientOptions().
		AddBroker(b.o.Broker).
		SetClientID(b.o.ClientID).
		SetCleanSession(false).
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetResumeSubs(true).
		SetOrderMatters(true).
		SetAutoAckDisabled(true).
		SetMaxReconnectInterval(limits.ReconnectMax).
		SetConnectRetryInterval(limits.ReconnectMax).
		SetKeepAlive(limits.MQTTKeepAlive).
		SetConnectTimeout(limits.MQTTConnectTimeout).
		SetWriteTimeout(limits.MQTTWriteTimeout)
	// Subscribe in the OnConnect handler, or the subscription vanishes
	// after a reconnect (paho #173). The message handler only queues: it
	// runs on paho's router and must not wait for a commit (paho #474).
	opts.SetOnConnectHandler(func(c mqtt.Client) {
		tok := c.Subscribe(SubscribeTopic, 1, func(_ mqtt.Client, m mqtt.Message) {
			select {
			case b.queue <- m:
			case <-ctx.Done(): // not acknowledged: redelivered after restart
			}
		})
		go func() {
			if !tok.WaitTimeout(limits.MQTTConnectTimeout) || tok.Error() != nil {
				b.log.Error("bridge subscribe failed", "broker", b.o.Broker, "err", tok.Error())
				return
			}
			b.log.Info("bridge subscribed", "broker", b.o.Broker, "topic", SubscribeTopic)
		}()
	})
	c := mqtt.NewClient(opts)
	c.Connect() // with ConnectRetry the token completes only once connected; not waited on
	b.work(ctx)
	c.Disconnect(250)
	return nil
}

// work submits queued child messages in batches, in arrival order, until
// ctx ends.
func (b *Bridge) work(ctx context.Context) {
	msgs := make([]mqtt.Message, 0, limits.MaxBatchSamples)
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-b.queue:
			msgs = append(msgs[:0], m)
		}
	more:
		for len(msgs) < limits.MaxBatchSamples {
			select {
			case m := <-b.queue:
				msgs = append(msgs, m)
			default:
				break more
			}
		}
		if !b.submit(ctx, msgs) {
			return
		}
	}
}

// submit parses and submits one batch and acknowledges its messages; it
// returns false when the agent is shutting down (nothing is acknowledged,
// so the local broker sends the batch again after the restart).
func (b *Bridge) submit(ctx context.Context, msgs []mqtt.Message) bool {
	samples := make([]wire.Sample, 0, len(msgs))
	for _, m := range msgs {
		b.received.Add(1)
		s, err := ParseMessage(m.Topic(), m.Payload())
		if err != nil {
			b.invalid.Add(1)
			b.log.Debug("child message refused", "topic", m.Topic(), "err", err)
			continue
		}
		samples = append(samples, s)
	}
	if len(samples) > 0 {
		res, err := b.o.Ingest.Submit(ctx, samples)
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				b.log.Warn("child samples not ingested", "samples", len(samples), "err", err)
			}
			return false
		}
		for _, r := range res {
			if r.Accepted {
				b.accepted.Add(1)
			}
		}
	}
	for _, m := range msgs {
		m.Ack()
	}
	return true
}
