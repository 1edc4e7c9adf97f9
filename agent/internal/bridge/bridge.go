// Package bridge is the gateway's bridge mode: it subscribes to a local
// MQTT broker that child devices (which cannot run the agent) publish to,
// and sends each child's samples through the same gate and outbox as local
// ingest, enforcing each child's own licenses.
//
// The bridge subscribes at QoS 1 with a persistent session, so the local
// broker keeps children's samples while the agent restarts; paho sends the
// PUBACK for a child's message only after the handler returned, which is
// after the sample was committed to the outbox (or refused).
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
	received atomic.Int64
	invalid  atomic.Int64
	accepted atomic.Int64
}

// New returns a bridge; Run starts it.
func New(o Options) *Bridge {
	b := &Bridge{o: o, log: o.Logger}
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
		SetOrderMatters(false).
		SetMaxReconnectInterval(limits.ReconnectMax).
		SetConnectRetryInterval(limits.ReconnectMax).
		SetKeepAlive(limits.MQTTKeepAlive).
		SetConnectTimeout(limits.MQTTConnectTimeout).
		SetWriteTimeout(limits.MQTTWriteTimeout)
	// Subscribe in the OnConnect handler, or the subscription vanishes
	// after a reconnect (paho #173).
	opts.SetOnConnectHandler(func(c mqtt.Client) {
		tok := c.Subscribe(SubscribeTopic, 1, func(_ mqtt.Client, m mqtt.Message) { b.handle(ctx, m) })
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
	<-ctx.Done()
	c.Disconnect(250)
	return nil
}

// handle runs in its own goroutine per message (OrderMatters false), so a
// slow commit never blocks paho's router.
func (b *Bridge) handle(ctx context.Context, m mqtt.Message) {
	b.received.Add(1)
	s, err := ParseMessage(m.Topic(), m.Payload())
	if err != nil {
		b.invalid.Add(1)
		b.log.Debug("child message refused", "topic", m.Topic(), "err", err)
		return
	}
	res, err := b.o.Ingest.Submit(ctx, []wire.Sample{s})
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			b.log.Warn("child sample not ingested", "device_id", s.DeviceID, "err", err)
		}
		return
	}
	if res[0].Accepted {
		b.accepted.Add(1)
	}
}
