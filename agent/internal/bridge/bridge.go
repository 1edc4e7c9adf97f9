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
//
// A redelivered message is recognized, not committed again under a new
// sample seq (which upstream could not tell from a new sample): the
// commit of every accepted child sample also writes a delivery record
// (store.KeyBridgeSeen: a hash of topic, MQTT packet id and payload → the
// sample's seq) in the same badger transaction (ingest.SubmitMarked). A
// message whose hash has a record is acknowledged without being submitted.
// Records are kept for the last limits.BridgeQueue committed messages, not
// deleted at the acknowledgement: a PUBACK that paho sent may still be lost
// with the connection, and the broker then redelivers a message the agent
// already acknowledged.
package bridge

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"log/slog"
	"sync/atomic"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/tollgate-iot/tollgate/agent/internal/limits"
	"github.com/tollgate-iot/tollgate/agent/internal/store"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// Submitter is the ingest path. SubmitMarked writes marks[i] → the seq of
// sample i, if accepted, in the transaction that commits it
// (ingest.Pipeline).
type Submitter interface {
	SubmitMarked(ctx context.Context, samples []wire.Sample, marks [][]byte) ([]wire.Result, error)
}

// seenKeep is how many delivery records the bridge keeps: far more than
// a local broker has in flight to it (Mosquitto's default is 20 messages),
// so every message it can redeliver is among them.
const seenKeep = limits.BridgeQueue

// Options configures a Bridge.
type Options struct {
	// Broker is the local broker, tcp://HOST:PORT.
	Broker string
	// ClientID names the bridge's persistent session on the local broker.
	ClientID string
	Ingest   Submitter
	// Store holds the delivery records (see the package doc).
	Store  *store.Store
	Logger *slog.Logger
}

// Bridge relays child devices' samples. Counters are safe to read
// concurrently.
type Bridge struct {
	o           Options
	log         *slog.Logger
	queue       chan mqtt.Message
	received    atomic.Int64
	invalid     atomic.Int64
	accepted    atomic.Int64
	redelivered atomic.Int64
	// The delivery records, touched only by the worker (Run's goroutine):
	// seen indexes fifo (oldest first) by hash; next numbers the next one.
	seen map[[store.BridgeHashBytes]byte]int64
	fifo []store.BridgeSeen
	next int64
}

// New returns a bridge; Run starts it.
func New(o Options) *Bridge {
	b := &Bridge{o: o, log: o.Logger, queue: make(chan mqtt.Message, limits.BridgeQueue),
		seen: map[[store.BridgeHashBytes]byte]int64{}, next: 1}
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

// Redelivered counts child messages acknowledged without a new commit
// because their sample was already committed (a local broker's
// redelivery after a crash or a lost PUBACK).
func (b *Bridge) Redelivered() int64 { return b.redelivered.Load() }

// Run subscribes until ctx ends. paho reconnects by itself here: the
// bridge keeps no outbox of its own (the local broker's persistent session
// holds what the bridge has not acknowledged).
func (b *Bridge) Run(ctx context.Context) error {
	if err := b.loadSeen(); err != nil {
		// Without them a redelivery of a message committed before the
		// restart is committed again under a new seq; say so loudly.
		b.log.Error("bridge delivery records unreadable; redeliveries from before the restart will not be recognized", "err", err)
	}
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
	marks := make([][]byte, 0, len(msgs))
	recs := make([]store.BridgeSeen, 0, len(msgs))
	inBatch := make(map[[store.BridgeHashBytes]byte]bool, len(msgs))
	for _, m := range msgs {
		b.received.Add(1)
		s, err := ParseMessage(m.Topic(), m.Payload())
		if err != nil {
			b.invalid.Add(1)
			b.log.Debug("child message refused", "topic", m.Topic(), "err", err)
			continue
		}
		h := MessageHash(m.Topic(), m.MessageID(), m.Payload())
		if seq, ok := b.seen[h]; ok || inBatch[h] {
			b.redelivered.Add(1)
			b.log.Debug("child message redelivered, already committed", "topic", m.Topic(), "dup", m.Duplicate(), "seq", seq)
			continue
		}
		inBatch[h] = true
		r := store.BridgeSeen{N: b.next, Hash: h}
		b.next++
		samples = append(samples, s)
		marks = append(marks, store.KeyBridgeSeen(r.N, r.Hash))
		recs = append(recs, r)
	}
	if len(samples) > 0 {
		res, err := b.o.Ingest.SubmitMarked(ctx, samples, marks)
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				b.log.Warn("child samples not ingested", "samples", len(samples), "err", err)
			}
			return false
		}
		for i, r := range res {
			if r.Accepted {
				b.accepted.Add(1)
				recs[i].Seq = r.Seq
				b.remember(recs[i])
			}
		}
	}
	for _, m := range msgs {
		m.Ack()
	}
	b.evict()
	return true
}

// MessageHash identifies a child message across redeliveries: the broker
// resends an unacknowledged QoS 1 message on the same topic with the same
// packet id and payload (MQTT 3.1.1 §4.4).
func MessageHash(topic string, packetID uint16, payload []byte) [store.BridgeHashBytes]byte {
	h := sha256.New()
	h.Write([]byte(topic))
	h.Write([]byte{0})
	h.Write(binary.BigEndian.AppendUint16(nil, packetID))
	h.Write(payload)
	var out [store.BridgeHashBytes]byte
	copy(out[:], h.Sum(nil))
	return out
}

// loadSeen reads the delivery records a previous run left.
func (b *Bridge) loadSeen() error {
	if b.o.Store == nil {
		return errors.New("bridge: no store for delivery records")
	}
	recs, err := b.o.Store.BridgeSeenRecords(seenKeep)
	if err != nil {
		return err
	}
	for _, r := range recs {
		b.remember(r)
		b.next = max(b.next, r.N+1)
	}
	return nil
}

func (b *Bridge) remember(r store.BridgeSeen) {
	b.seen[r.Hash] = r.Seq
	b.fifo = append(b.fifo, r)
}

// evict deletes the oldest records beyond seenKeep, a quarter of seenKeep
// at a time (one badger transaction, no fsync: a deletion lost to power
// loss is only done again).
func (b *Bridge) evict() {
	if len(b.fifo) <= seenKeep+seenKeep/4 {
		return
	}
	old := b.fifo[:len(b.fifo)-seenKeep]
	if b.o.Store != nil {
		keys := make([][]byte, len(old))
		for i, r := range old {
			keys[i] = store.KeyBridgeSeen(r.N, r.Hash)
		}
		if err := b.o.Store.DeleteKeys(keys); err != nil {
			b.log.Warn("bridge delivery records not deleted; retried later", "err", err)
			return
		}
	}
	for _, r := range old {
		delete(b.seen, r.Hash)
	}
	b.fifo = append(b.fifo[:0:0], b.fifo[len(old):]...)
}
