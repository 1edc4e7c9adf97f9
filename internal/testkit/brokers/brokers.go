// Package brokers holds the MQTT brokers the tests run — an embedded NATS
// server with its MQTT listener, Mosquitto as a child process — and the
// telemetry sink that records what they carry, by device and seq. The
// agent's tests and the end-to-end suites use this one copy. It is
// imported only from _test files.
package brokers

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/tollgate-iot/tollgate/internal/testkit/mosquitto"
	"github.com/tollgate-iot/tollgate/shared/clock"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// NATS is an embedded NATS server with its MQTT listener, plus an
// in-process subscriber that records every telemetry envelope.
type NATS struct {
	Server *server.Server
	URL    string // tcp://127.0.0.1:PORT of the MQTT listener
	Sink   *Sink
	auth   *recordingAuth
}

// recordingAuth admits everyone once open and remembers the MQTT
// credentials. Until the recording subscriber is in place it refuses MQTT
// clients, so that nothing is published before anyone records it (a
// client that reconnects fast would otherwise beat the subscriber).
type recordingAuth struct {
	mu      sync.Mutex
	users   map[string]string
	refused map[string]bool
	open    atomic.Bool
	// attempts counts MQTT CONNECTs per user, refused ones included.
	attempts map[string]int
}

func (a *recordingAuth) Check(c server.ClientAuthentication) bool {
	o := c.GetOpts()
	if o == nil || o.Username == "" {
		return true // the in-process recorder
	}
	if !a.open.Load() {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.attempts[o.Username]++
	if a.refused[o.Username] {
		return false
	}
	a.users[o.Username] = o.Password
	return true
}

// Refuse makes the broker refuse (true) or admit again (false) the MQTT
// user's CONNECTs, as the license server's broker refuses a cut-off
// device.
func (n *NATS) Refuse(user string, refuse bool) {
	n.auth.mu.Lock()
	defer n.auth.mu.Unlock()
	n.auth.refused[user] = refuse
}

// Attempts counts the MQTT user's CONNECTs, refused ones included.
func (n *NATS) Attempts(user string) int {
	n.auth.mu.Lock()
	defer n.auth.mu.Unlock()
	return n.auth.attempts[user]
}

// Password returns the password the MQTT user last connected with.
func (n *NATS) Password(user string) string {
	n.auth.mu.Lock()
	defer n.auth.mu.Unlock()
	return n.auth.users[user]
}

// StartNATS starts the broker on a free loopback port (or port, if > 0,
// to restart on the same address) with JetStream in dir.
func StartNATS(t testing.TB, dir string, port int) *NATS {
	t.Helper()
	return startNATS(t, dir, port, true)
}

// StartNATSNoSink starts the broker without the recording subscriber, for
// benchmarks that must not pay for decoding what they publish.
func StartNATSNoSink(t testing.TB, dir string) *NATS {
	t.Helper()
	return startNATS(t, dir, 0, false)
}

func startNATS(t testing.TB, dir string, port int, sink bool) *NATS {
	t.Helper()
	if port <= 0 {
		port = FreePort(t)
	}
	auth := &recordingAuth{users: map[string]string{}, refused: map[string]bool{}, attempts: map[string]int{}}
	opts := &server.Options{
		ServerName: "tollgate-test", Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir,
		MQTT:                       server.MQTTOpts{Host: "127.0.0.1", Port: port},
		CustomClientAuthentication: auth, NoLog: true, NoSigs: true,
	}
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats not ready")
	}
	n := &NATS{Server: s, URL: fmt.Sprintf("tcp://127.0.0.1:%d", port), auth: auth}
	n.Sink = newSink()
	if !sink {
		auth.open.Store(true)
		t.Cleanup(n.Stop)
		return n
	}
	nc, err := nats.Connect("", nats.InProcessServer(s))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nc.Subscribe("tollgate.v1.>", func(m *nats.Msg) { n.Sink.add(m.Data) }); err != nil {
		t.Fatal(err)
	}
	nc.Flush()
	auth.open.Store(true)
	t.Cleanup(func() { nc.Close(); n.Stop() })
	return n
}

// Stop shuts the broker down (idempotent).
func (n *NATS) Stop() {
	n.Server.Shutdown()
	n.Server.WaitForShutdown()
}

// Port returns the MQTT port.
func (n *NATS) Port() int {
	var p int
	fmt.Sscanf(n.URL[strings.LastIndex(n.URL, ":")+1:], "%d", &p)
	return p
}

// Sink records telemetry envelopes by (device, seq) and counts duplicates.
type Sink struct {
	mu       sync.Mutex
	bySeq    map[string]map[int64]*wire.Telemetry
	total    int
	dups     int
	conflict []string
	bad      int
}

func newSink() *Sink { return &Sink{bySeq: map[string]map[int64]*wire.Telemetry{}} }

func (s *Sink) add(b []byte) { s.addOn("", b) }

// addOn records an envelope that came on topic; with topic not empty, an
// envelope whose device is not the topic's device counts as bad.
func (s *Sink) addOn(topic string, b []byte) {
	t, err := wire.ParseTelemetry(b)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total++
	if err != nil || (topic != "" && !strings.HasSuffix(topic, "/"+t.DeviceID+"/telemetry")) {
		s.bad++
		return
	}
	m := s.bySeq[t.DeviceID]
	if m == nil {
		m = map[int64]*wire.Telemetry{}
		s.bySeq[t.DeviceID] = m
	}
	if prev, ok := m[t.Seq]; ok {
		s.dups++
		if string(prev.Data) != string(t.Data) || prev.TS != t.TS {
			s.conflict = append(s.conflict, fmt.Sprintf("%s seq %d: %s vs %s", t.DeviceID, t.Seq, prev.Data, t.Data))
		}
		return
	}
	m[t.Seq] = t
}

// Add records an envelope received by other means (Mosquitto subscriber).
func (s *Sink) Add(b []byte) { s.add(b) }

// NewSink returns an empty sink.
func NewSink() *Sink { return newSink() }

// Stats returns unique samples, duplicates, seq reuses with other data, and
// envelopes that did not parse.
func (s *Sink) Stats() (unique, dups int, conflicts []string, bad int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.bySeq {
		unique += len(m)
	}
	return unique, s.dups, append([]string(nil), s.conflict...), s.bad
}

// Unique returns how many of the device's seqs arrived.
func (s *Sink) Unique(device string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.bySeq[device])
}

// Bad counts envelopes that did not parse (or came on another device's
// topic, with CheckTopic).
func (s *Sink) Bad() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bad
}

// Has reports whether the device's seq arrived.
func (s *Sink) Has(device string, seq int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.bySeq[device][seq]
	return ok
}

// Get returns the envelope of the device's seq, or nil.
func (s *Sink) Get(device string, seq int64) *wire.Telemetry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bySeq[device][seq]
}

// WaitUnique waits until n unique samples arrived or timeout passes.
func (s *Sink) WaitUnique(n int, timeout time.Duration) bool {
	deadline := wall.After(timeout)
	tick := wall.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if u, _, _, _ := s.Stats(); u >= n {
			return true
		}
		select {
		case <-deadline:
			u, _, _, _ := s.Stats()
			return u >= n
		case <-tick.C():
		}
	}
}

// FreePort returns a free loopback TCP port.
func FreePort(t testing.TB) int { return mosquitto.FreePort(t) }

// Mosquitto is a mosquitto broker run as a child process.
type Mosquitto = mosquitto.Broker

// StartMosquitto starts mosquitto on a free port, anonymous clients
// allowed, with the extra config lines. It skips the test when mosquitto is
// not installed, except on CI.
func StartMosquitto(t testing.TB, extraConf string) *Mosquitto {
	t.Helper()
	return mosquitto.Start(t, mosquitto.Anonymous+extraConf)
}

var wall clock.Clock = clock.Real{}

// Reset forgets everything recorded (between subtests sharing a broker).
func (s *Sink) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bySeq, s.total, s.dups, s.conflict, s.bad = map[string]map[int64]*wire.Telemetry{}, 0, 0, nil, 0
}

// Subscribe records every telemetry envelope published on an MQTT broker
// (Mosquitto, or any other) through a paho subscriber.
func Subscribe(t testing.TB, broker string) *Sink {
	t.Helper()
	return SubscribeWith(t, broker, SubscribeOptions{})
}

// SubscribeOptions says how SubscribeWith's client logs in and what it
// takes.
type SubscribeOptions struct {
	User, Password string
	// ClientID defaults to a fresh "observer-N".
	ClientID string
	// Topic defaults to "tollgate/v1/#".
	Topic string
	// CheckTopic counts as bad an envelope whose device is not the one of
	// the topic it came on (.../DEVICE/telemetry).
	CheckTopic bool
}

// SubscribeWith is Subscribe with a login, client id, topic filter and
// topic check.
func SubscribeWith(t testing.TB, broker string, o SubscribeOptions) *Sink {
	t.Helper()
	sink := newSink()
	id, topic := o.ClientID, o.Topic
	if id == "" {
		id = fmt.Sprintf("observer-%d", observers.Add(1))
	}
	if topic == "" {
		topic = "tollgate/v1/#"
	}
	opts := mqtt.NewClientOptions().AddBroker(broker).SetClientID(id).SetOrderMatters(false).
		SetUsername(o.User).SetPassword(o.Password)
	c := mqtt.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("observer connect: %v", tok.Error())
	}
	tok := c.Subscribe(topic, 1, func(_ mqtt.Client, m mqtt.Message) {
		if o.CheckTopic {
			sink.addOn(m.Topic(), m.Payload())
			return
		}
		sink.add(m.Payload())
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return sink
}

// observers numbers Subscribe's clients: a broker kicks a client whose id
// another client takes.
var observers atomic.Int64

// MarkerDevice is the device id of Barrier's marker envelopes; the sink
// counts them like any other device's.
const MarkerDevice = "barrier-marker"

// Barrier publishes a marker envelope on broker (anonymous MQTT; as
// user/password on a broker that wants a login) with the next marker seq
// and waits until sink has it. Call it after the thing that must not
// arrive has had its chance: the broker delivers to the sink in the order
// it received, so once the marker is in, what came before it is too, and
// a check that something is absent is then meaningful.
func Barrier(t testing.TB, broker string, sink *Sink, timeout time.Duration) {
	t.Helper()
	seq := markers.Add(1)
	b, err := json.Marshal(wire.Telemetry{V: 1, DeviceID: MarkerDevice, CustomerID: "barrier",
		LicenseID: "00000000-0000-4000-8000-000000000000", Seq: seq, TS: "2026-01-01T00:00:00Z", Data: json.RawMessage(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker).SetClientID(fmt.Sprintf("barrier-%d", seq)))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("barrier connect: %v", tok.Error())
	}
	defer c.Disconnect(100)
	if tok := c.Publish(wire.TelemetryTopic("barrier", MarkerDevice), 1, false, b); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("barrier publish: %v", tok.Error())
	}
	deadline := wall.After(timeout)
	tick := wall.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !sink.Has(MarkerDevice, seq) {
		select {
		case <-deadline:
			t.Fatalf("barrier: marker %d not received within %s", seq, timeout)
		case <-tick.C():
		}
	}
}

// markers numbers Barrier's envelopes.
var markers atomic.Int64
