// Package upstream publishes the outbox to the upstream MQTT broker with
// paho.mqtt.golang at QoS 1, retiring an entry only on its PUBACK.
//
// Paho's own QoS 1 guarantees are not relied on (docs/dependencies.md): the
// client runs with a clean session and no auto-reconnect, so that a lost
// connection completes every in-flight token with an error. The publisher
// then rewinds to the oldest unacknowledged entry and, after reconnecting,
// resends in sequence order. Delivery is at-least-once: an entry whose
// PUBACK arrived but whose acknowledgement did not reach the disk before a
// crash is sent again, with the same device sequence, for the consumer to
// drop.
package upstream

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/tollgate-iot/tollgate/agent/internal/config"
	"github.com/tollgate-iot/tollgate/agent/internal/limits"
	"github.com/tollgate-iot/tollgate/agent/internal/outbox"
	"github.com/tollgate-iot/tollgate/shared/clock"
)

// errLost reports that the connection went away during a session.
var errLost = errors.New("connection lost")

// ErrClosedOnConnect reports a broker that closed the connection instead
// of answering CONNECT: it refuses the device's credentials, or is going
// down.
var ErrClosedOnConnect = errors.New("the broker closed the connection without answering CONNECT")

// Options configures a Publisher.
type Options struct {
	// Broker is tcp://HOST:PORT or ssl://HOST:PORT, or several such
	// addresses comma-separated: the brokers of one cluster, tried in
	// turn (failover.go).
	Broker string
	// ClientID and Username are the device id.
	ClientID string
	Username string
	// Password returns the current license token, read at every CONNECT.
	Password func() string
	TLS      *tls.Config
	// MaxInflight bounds unacknowledged publishes.
	MaxInflight int
	// AckLinger bounds how long a PUBACK waits to be recorded while the
	// window stays busy (default limits.AckRecordLinger).
	AckLinger time.Duration
	Outbox    *outbox.Outbox
	// ControlTopic returns the device's control topic, read at every
	// CONNECT ("" subscribes to nothing); Control receives what the server
	// pushes there (signed revocation lists, tokens). Control runs on its
	// own goroutine per message and must be safe for concurrent use.
	ControlTopic func() string
	Control      func(payload []byte)
	// OnConnect, if set, is called after every successful CONNECT (the
	// first and each reconnect), once the control topic is subscribed.
	// Whatever the server pushed while the agent was away (QoS 0 on a
	// clean session) is lost, so the agent syncs then. It runs on the
	// publisher's goroutine and must not block.
	OnConnect func()
	// ConnectDone, if set, is told how every CONNECT attempt ended and how
	// long it took (dial to CONNACK), for the latency histogram; attempts
	// cut short by shutdown are not reported. It must not block.
	ConnectDone func(err error, d time.Duration)
	// Refusal, if set, says why the broker would refuse this device now,
	// as far as the agent's own state knows ("blacklisted", "revoked", …;
	// "" when nothing stands in the way). A refused CONNECT backs off to
	// limits.ReconnectRefusedMax and logs that reason once.
	Refusal func() string
	Clock   clock.Clock
	Logger  *slog.Logger
}

// Publisher drains the outbox to the broker. Its counters are safe to read
// concurrently.
type Publisher struct {
	o          Options
	log        *slog.Logger
	clk        clock.Clock
	connected  atomic.Bool
	published  atomic.Int64
	reconnects atomic.Int64
	// brokers are the addresses of Options.Broker; cur the one the next
	// CONNECT goes to (Run's goroutine only), current the same for
	// readers; failovers counts moves to the next address.
	brokers   []string
	cur       int
	current   atomic.Pointer[string]
	failovers atomic.Int64
}

// New returns a publisher; Run starts it.
func New(o Options) *Publisher {
	p := &Publisher{o: o, log: o.Logger, clk: clock.OrReal(o.Clock), brokers: config.SplitList(o.Broker)}
	if len(p.brokers) == 0 {
		p.brokers = []string{o.Broker}
	}
	p.current.Store(&p.brokers[0])
	if p.log == nil {
		p.log = slog.Default()
	}
	if p.o.MaxInflight <= 0 {
		p.o.MaxInflight = limits.DefaultMaxInflight
	}
	if p.o.AckLinger <= 0 {
		p.o.AckLinger = limits.AckRecordLinger
	}
	return p
}

// Connected reports whether a session is up.
func (p *Publisher) Connected() bool { return p.connected.Load() }

// Published counts PUBLISH packets handed to paho, resends included.
func (p *Publisher) Published() int64 { return p.published.Load() }

// Reconnects counts sessions after the first.
func (p *Publisher) Reconnects() int64 { return p.reconnects.Load() }

// Run connects, publishes and reconnects with backoff until ctx ends.
func (p *Publisher) Run(ctx context.Context) {
	var rc reconnect
	sessions := 0
	for ctx.Err() == nil {
		start := p.clk.Now()
		// What this CONNECT is made with: a refusal is waited out only
		// until the agent's state differs from it, even when the change
		// arrived while the CONNECT was under way.
		sent := p.credentials()
		c, lost, err := p.connect(ctx)
		if p.o.ConnectDone != nil && ctx.Err() == nil {
			p.o.ConnectDone(err, p.clk.Now().Sub(start))
		}
		if err != nil {
			// A broker that answers CONNECT with a refusal or by closing
			// the connection refuses this device; the agent's own state
			// may say why. A broker that cannot be reached is retried
			// fast.
			refused, reason := refusedConnect(err), ""
			if refused {
				reason = p.refusal()
			}
			if !refused && p.failover(&rc, err) {
				if !p.wait(ctx, failoverPause(), "") {
					return
				}
				continue
			}
			wait := rc.next(refused, reason != "")
			if !refused {
				wait = jitter(wait)
			}
			rc.log(p.log, p.broker(), err, reason, wait)
			waitOut := ""
			if refused {
				waitOut = sent
			}
			if !p.wait(ctx, wait, waitOut) {
				return
			}
			continue
		}
		rc = reconnect{}
		if sessions > 0 {
			p.reconnects.Add(1)
		}
		sessions++
		p.connected.Store(true)
		rc.round = 0
		p.log.Info("upstream connected", "broker", p.broker())
		p.subscribeControl(c)
		if p.o.OnConnect != nil {
			p.o.OnConnect()
		}
		err = p.session(ctx, c, lost)
		p.connected.Store(false)
		c.Disconnect(250)
		if ctx.Err() == nil {
			p.log.Warn("upstream session ended", "err", err)
		}
	}
}

func (p *Publisher) refusal() string {
	if p.o.Refusal == nil {
		return ""
	}
	return p.o.Refusal()
}

// wait waits d before the next CONNECT. After a refusal (refusedWith is
// the credentials the refused CONNECT was made with, "" otherwise) it
// looks at the agent's state every limits.RefusalRecheck and ends the wait
// as soon as the verdict or the license token differs from refusedWith (a
// sync brought a license back), at once if it already does. It reports
// false when ctx ended.
func (p *Publisher) wait(ctx context.Context, d time.Duration, refusedWith string) bool {
	refused := refusedWith != ""
	for d > 0 {
		if refused && p.credentials() != refusedWith {
			return true
		}
		step := d
		if refused {
			step = min(d, limits.RefusalRecheck)
		}
		select {
		case <-ctx.Done():
			return false
		case <-p.clk.After(step):
		}
		d -= step
	}
	return ctx.Err() == nil
}

// credentials is what a refused CONNECT depends on: the agent's own
// verdict and the token it would send.
func (p *Publisher) credentials() string {
	pw := ""
	if p.o.Password != nil {
		pw = p.o.Password()
	}
	return p.refusal() + "\x00" + pw
}

// subscribeControl subscribes to the device's control topic on a fresh
// session (clean sessions forget subscriptions). A failure is logged, not
// fatal: publishing goes on, and the next session tries again.
func (p *Publisher) subscribeControl(c mqtt.Client) {
	if p.o.ControlTopic == nil || p.o.Control == nil {
		return
	}
	topic := p.o.ControlTopic()
	if topic == "" {
		return
	}
	tok := c.Subscribe(topic, 1, func(_ mqtt.Client, m mqtt.Message) { p.o.Control(m.Payload()) })
	if !tok.WaitTimeout(limits.MQTTConnectTimeout) || tok.Error() != nil {
		p.log.Warn("control topic subscription failed", "topic", topic, "err", tok.Error())
	}
}

func (p *Publisher) connect(ctx context.Context) (mqtt.Client, <-chan struct{}, error) {
	lost := make(chan struct{})
	var once sync.Once
	opts := mqtt.NewClientOptions().
		AddBroker(p.broker()).
		SetClientID(p.o.ClientID).
		SetUsername(p.o.Username).
		SetCleanSession(true).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetOrderMatters(false).
		SetKeepAlive(limits.MQTTKeepAlive).
		SetConnectTimeout(limits.MQTTConnectTimeout).
		SetWriteTimeout(limits.MQTTWriteTimeout).
		SetConnectionLostHandler(func(mqtt.Client, error) { once.Do(func() { close(lost) }) })
	if p.o.Password != nil {
		opts.SetPassword(p.o.Password())
	}
	if p.o.TLS != nil {
		opts.SetTLSConfig(p.tlsFor(p.broker()))
	}
	c := mqtt.NewClient(opts)
	tok := c.Connect()
	select {
	case <-tok.Done():
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	case <-p.clk.After(limits.MQTTConnectTimeout + time.Second):
		c.Disconnect(0)
		return nil, nil, errors.New("connect timed out")
	}
	if err := tok.Error(); err != nil {
		if errors.Is(err, io.EOF) {
			err = fmt.Errorf("%w: %v", ErrClosedOnConnect, err)
		}
		return nil, nil, err
	}
	return c, lost, nil
}

type inflight struct {
	e   outbox.Entry // Payload cleared: only the sequence and segment matter
	tok mqtt.Token
}

// session publishes from the oldest entry on until the connection is lost.
func (p *Publisher) session(ctx context.Context, c mqtt.Client, lost <-chan struct{}) error {
	fifo := make(chan inflight, p.o.MaxInflight)
	stop := make(chan struct{})
	ackExit := make(chan struct{})
	var ackErr error
	go func() {
		ackErr = p.acker(fifo, lost, stop)
		close(ackExit)
	}()
	err := p.publishLoop(ctx, c, fifo, lost, ackExit)
	close(stop)
	<-ackExit
	return errors.Join(err, ackErr)
}

func (p *Publisher) publishLoop(ctx context.Context, c mqtt.Client, fifo chan<- inflight, lost, ackExit <-chan struct{}) error {
	chunks := make(chan []outbox.Entry, 2)
	stop := make(chan struct{})
	readErr := make(chan error, 1)
	go func() { readErr <- p.reader(chunks, stop) }()
	defer func() { close(stop); <-readErr }()
	for {
		var entries []outbox.Entry
		select {
		case entries = <-chunks:
		case <-lost:
			return errLost
		case <-ctx.Done():
			return ctx.Err()
		case <-ackExit:
			return nil
		case err := <-readErr:
			readErr <- err
			return err
		}
		for _, e := range entries {
			tok := c.Publish(e.Topic, 1, false, e.Payload)
			p.published.Add(1)
			select {
			case fifo <- inflight{e: outbox.Entry{Seq: e.Seq, Seg: e.Seg, Last: e.Last}, tok: tok}:
			case <-lost:
				return errLost
			case <-ctx.Done():
				return ctx.Err()
			case <-ackExit:
				return nil
			}
		}
	}
}

// reader feeds the publisher in sequence order: from badger for the
// backlog (everything at session start, and whatever the in-memory feed
// dropped), from the outbox's live feed otherwise, so that in the steady
// state nothing is read back from disk and a read never idles the window.
func (p *Publisher) reader(chunks chan<- []outbox.Entry, stop <-chan struct{}) error {
	ob := p.o.Outbox
	ob.DrainLive()
	cursor := int64(0)
	send := func(es []outbox.Entry) bool {
		select {
		case chunks <- es:
			cursor = es[len(es)-1].Seq + 1
			return true
		case <-stop:
			return false
		}
	}
	backlog := true
	for {
		if backlog {
			entries, err := ob.Read(cursor, limits.PublishReadChunk)
			if err != nil {
				return err
			}
			if len(entries) == 0 {
				backlog = false
				continue
			}
			if !send(entries) {
				return nil
			}
			continue
		}
		select {
		case es := <-ob.Live():
			for len(es) > 0 && es[0].Seq < cursor {
				es = es[1:]
			}
			if len(es) == 0 {
				continue
			}
			if es[0].Seq > cursor {
				// The feed dropped chunks: catch up from badger first.
				backlog = true
				continue
			}
			if !send(es) {
				return nil
			}
		case <-ob.Notify():
			backlog = true
		case <-stop:
			return nil
		}
	}
}

// acker waits for PUBACKs in publish order and hands acknowledged
// sequences to the deleter without ever waiting for it: a badger write
// (which stalls while an fsync holds the database) must not hold up the
// next PUBACK, or the in-flight window would drain. It returns on the first
// failed publish, after the deleter recorded everything acknowledged.
func (p *Publisher) acker(fifo <-chan inflight, lost, stop <-chan struct{}) error {
	pend := &pendingAcks{kick: make(chan struct{}, 1)}
	delErr := make(chan error, 1)
	go func() { delErr <- p.deleter(pend) }()
	err := p.awaitAcks(fifo, pend, lost, stop)
	pend.close()
	return errors.Join(err, <-delErr)
}

// pendingAcks is what the acker collected since the deleter last took it:
// counts and segment ids only, so it stays small however far the deleter
// falls behind.
type pendingAcks struct {
	mu     sync.Mutex
	acks   outbox.Acks
	urgent bool // the window emptied: record without waiting for a batch
	closed bool
	kick   chan struct{}
}

// add notes one acknowledged entry. idle says that no publish is in flight
// behind it, so no further PUBACK is coming to share its write.
func (q *pendingAcks) add(e outbox.Entry, idle bool) {
	q.mu.Lock()
	q.acks.Add(e)
	q.urgent = q.urgent || idle
	// The first ack of a batch wakes the deleter too, which starts the
	// linger that bounds how long it waits.
	ready := q.urgent || q.acks.N >= limits.AckRecordBatch || q.acks.N == 1
	q.mu.Unlock()
	if ready {
		q.wake()
	}
}

func (q *pendingAcks) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.wake()
}

func (q *pendingAcks) wake() {
	select {
	case q.kick <- struct{}{}:
	default:
	}
}

// take swaps what is pending into spare (emptied) when it is due — a full
// batch, an empty window, the acker finished, or force. It returns what it
// took (N == 0 if nothing was due), whether acks are left waiting, and
// whether the acker has finished.
func (q *pendingAcks) take(spare *outbox.Acks, force bool) (got outbox.Acks, waiting, closed bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !(force || q.closed || q.urgent || q.acks.N >= limits.AckRecordBatch) {
		return outbox.Acks{}, q.acks.N > 0, q.closed
	}
	spare.Reset()
	got, q.acks, q.urgent = q.acks, *spare, false
	return got, false, q.closed
}

func (p *Publisher) awaitAcks(fifo <-chan inflight, pend *pendingAcks, lost, stop <-chan struct{}) error {
	for {
		var it inflight
		select {
		case it = <-fifo:
		case <-lost:
			return errLost
		case <-stop:
			return nil
		}
		select {
		case <-it.tok.Done():
		case <-lost:
			return errLost
		case <-stop:
			return nil
		}
		if err := it.tok.Error(); err != nil {
			return err
		}
		pend.add(it.e, len(fifo) == 0)
	}
}

// deleter records acknowledged entries in batches: a write per
// limits.AckRecordBatch PUBACKs while the window is busy, at once when it
// empties, and never later than Options.AckLinger after the first PUBACK
// of a batch.
// Each write costs badger a commit through its single writer, shared with
// the ingest commits; one per PUBACK burst made the deleter the agent's
// busiest badger client. A PUBACK not yet recorded at a crash only means
// that entry is sent again (delivery is at least once).
func (p *Publisher) deleter(pend *pendingAcks) error {
	var firstErr error
	var spare outbox.Acks
	linger := time.NewTimer(p.o.AckLinger)
	linger.Stop()
	lingering := false
	for {
		force := false
		select {
		case <-pend.kick:
		case <-linger.C:
			lingering, force = false, true
		}
		got, waiting, closed := pend.take(&spare, force)
		if waiting && !lingering {
			linger.Reset(p.o.AckLinger)
			lingering = true
		}
		if got.N > 0 {
			if err := p.o.Outbox.Record(&got); err != nil && firstErr == nil {
				firstErr = err
			}
			spare = got
		}
		if closed {
			// close() ran before take: nothing can be added any more.
			linger.Stop()
			return firstErr
		}
	}
}
