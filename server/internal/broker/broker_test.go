package broker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/tollgate-iot/tollgate/shared/clock"
)

// fakeAuth grants by username: "dev:ID" is a device of customer c1,
// "svc:NAME" reads c1's telemetry, anything else is refused.
type fakeAuth struct {
	deadline func(username string) time.Time
}

func (f fakeAuth) Authorize(_ context.Context, username, password string, _ *tls.ConnectionState) (Grant, error) {
	if password != "secret" {
		return Grant{}, fmt.Errorf("%w: bad password", ErrDenied)
	}
	var d time.Time
	if f.deadline != nil {
		d = f.deadline(username)
	}
	switch {
	case strings.HasPrefix(username, "dev:"):
		id := strings.TrimPrefix(username, "dev:")
		return Grant{
			Identity:  id,
			Publish:   []string{"tollgate/v1/c1/" + id + "/#"},
			Subscribe: []string{"tollgate/v1/c1/" + id + "/control"},
			Deadline:  d,
		}, nil
	case strings.HasPrefix(username, "svc:"):
		return Grant{Identity: username, Instances: true, Subscribe: []string{"tollgate/v1/c1/#"}}, nil
	}
	return Grant{}, fmt.Errorf("%w: unknown user", ErrDenied)
}

func startBroker(t *testing.T, auth Authorizer) *Broker {
	t.Helper()
	b, err := Start(Config{StoreDir: t.TempDir(), Auth: auth, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

var clientSeq atomic.Int64

type client struct {
	c    mqtt.Client
	lost chan struct{}
}

// clientIDFor is the client id a well-behaved client of user uses: a
// device ("dev:ID") its id, an application ("svc:NAME") an instance of its
// name.
func clientIDFor(user string) string {
	if id, ok := strings.CutPrefix(user, "dev:"); ok {
		return id
	}
	if strings.HasPrefix(user, ServicePrefix) {
		return fmt.Sprintf("%s/%d", user, clientSeq.Add(1))
	}
	return user
}

func connect(t *testing.T, b *Broker, user, pass string) (*client, error) {
	t.Helper()
	return connectAs(t, b, clientIDFor(user), user, pass)
}

// connectAs connects with an explicit MQTT client id.
func connectAs(t *testing.T, b *Broker, clientID, user, pass string) (*client, error) {
	t.Helper()
	cl := &client{lost: make(chan struct{})}
	var once sync.Once
	opts := mqtt.NewClientOptions().
		AddBroker("tcp://" + b.MQTTAddr()).
		SetClientID(clientID).
		SetUsername(user).SetPassword(pass).
		SetAutoReconnect(false).SetConnectRetry(false).SetOrderMatters(true). // handlers only push to a buffered channel

		SetConnectTimeout(5 * time.Second).
		SetConnectionLostHandler(func(mqtt.Client, error) { once.Do(func() { close(cl.lost) }) })
	cl.c = mqtt.NewClient(opts)
	tok := cl.c.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		return nil, errors.New("connect timed out")
	}
	if err := tok.Error(); err != nil {
		return nil, err
	}
	t.Cleanup(func() { cl.c.Disconnect(100) })
	return cl, nil
}

func mustConnect(t *testing.T, b *Broker, user string) *client {
	t.Helper()
	c, err := connect(t, b, user, "secret")
	if err != nil {
		t.Fatalf("connect %s: %v", user, err)
	}
	return c
}

func publish(t *testing.T, c *client, topic, payload string) {
	t.Helper()
	tok := c.c.Publish(topic, 1, false, payload)
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

// subscribe collects payloads of topic filter into a channel.
func subscribe(t *testing.T, c *client, filter string) chan string {
	t.Helper()
	ch := make(chan string, 100)
	tok := c.c.Subscribe(filter, 1, func(_ mqtt.Client, m mqtt.Message) { ch <- m.Topic() + " " + string(m.Payload()) })
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe %s: %v", filter, tok.Error())
	}
	return ch
}

func next(t *testing.T, ch chan string) string {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no message within 10 s")
		return ""
	}
}

func TestLicensedDevicePublishesAndIsObserved(t *testing.T) {
	b := startBroker(t, fakeAuth{})
	svc := mustConnect(t, b, "svc:dash")
	got := subscribe(t, svc, "tollgate/v1/c1/+/telemetry")
	dev := mustConnect(t, b, "dev:pump1")
	publish(t, dev, "tollgate/v1/c1/pump1/telemetry", "s1")
	publish(t, dev, "tollgate/v1/c1/pump1/telemetry", "s2")
	if m := next(t, got); m != "tollgate/v1/c1/pump1/telemetry s1" {
		t.Fatalf("service got %q", m)
	}
	next(t, got)
	// The broker's own observer is another subscriber: it may see the
	// second sample a moment after the service does.
	eventually(t, func() bool { return b.Observed("pump1") == 2 }, func() string {
		return fmt.Sprintf("Observed = %d, want 2", b.Observed("pump1"))
	})
}

// eventually waits up to 10 s for cond, then fails with msg().
func eventually(t *testing.T, cond func() bool, msg func() string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for !cond() {
		select {
		case <-deadline:
			t.Fatal(msg())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func TestRefusedAtConnect(t *testing.T) {
	b := startBroker(t, fakeAuth{})
	tests := []struct{ name, user, pass string }{
		{"error/bad-password", "dev:pump1", "wrong"},
		{"error/unknown-user", "mallory", "secret"},
		{"error/internal-user-guess", internalUser, "secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := connect(t, b, tt.user, tt.pass); err == nil {
				t.Fatal("connect succeeded")
			}
		})
	}
}

// TestPublishUnderAnotherDeviceGetsNothingThrough sends a message under a
// foreign device's topic and then one under the device's own topic; the
// subscriber sees the second and never the first.
func TestPublishUnderAnotherDeviceGetsNothingThrough(t *testing.T) {
	b := startBroker(t, fakeAuth{})
	svc := mustConnect(t, b, "svc:dash")
	got := subscribe(t, svc, "tollgate/v1/c1/#")
	dev := mustConnect(t, b, "dev:pump1")
	dev.c.Publish("tollgate/v1/c1/pump2/telemetry", 1, false, "forged").WaitTimeout(5 * time.Second)
	// nats-server may close a connection that violates its permissions;
	// the sentinel goes over a fresh connection if so.
	select {
	case <-dev.lost:
		dev = mustConnect(t, b, "dev:pump1")
	default:
	}
	publish(t, dev, "tollgate/v1/c1/pump1/telemetry", "sentinel")
	if m := next(t, got); m != "tollgate/v1/c1/pump1/telemetry sentinel" {
		t.Fatalf("subscriber got %q before the sentinel", m)
	}
	eventually(t, func() bool { return b.Observed("pump1") >= 1 }, func() string { return "the sentinel was never observed" })
	if n := b.Observed("pump2"); n != 0 {
		t.Fatalf("forged telemetry observed for pump2: %d", n)
	}
}

func TestServiceCannotPublishUnderDeviceTopics(t *testing.T) {
	b := startBroker(t, fakeAuth{})
	watcher := mustConnect(t, b, "svc:watch")
	got := subscribe(t, watcher, "tollgate/v1/c1/#")
	svc := mustConnect(t, b, "svc:dash")
	svc.c.Publish("tollgate/v1/c1/pump1/telemetry", 1, false, "forged").WaitTimeout(5 * time.Second)
	dev := mustConnect(t, b, "dev:pump1")
	publish(t, dev, "tollgate/v1/c1/pump1/telemetry", "sentinel")
	if m := next(t, got); !strings.HasSuffix(m, " sentinel") {
		t.Fatalf("watcher got %q before the sentinel", m)
	}
}

func TestKickDisconnectsAtOnce(t *testing.T) {
	b := startBroker(t, fakeAuth{})
	dev := mustConnect(t, b, "dev:pump1")
	if n := b.Kick("pump1"); n != 1 {
		t.Fatalf("Kick closed %d connections, want 1", n)
	}
	select {
	case <-dev.lost:
	case <-time.After(10 * time.Second):
		t.Fatal("kicked device still connected after 10 s")
	}
	if n := b.Kick("pump1"); n != 0 {
		t.Fatalf("second Kick closed %d", n)
	}
}

// TestKickDuringConnectRefusesIt: a Kick that lands while a CONNECT of the
// same identity is being authorized (the ledger answered before the change
// that caused the kick) refuses that CONNECT instead of letting it slip
// past the kick.
func TestKickDuringConnectRefusesIt(t *testing.T) {
	var b *Broker
	kickNow := make(chan bool, 1)
	auth := AuthorizerFunc(func(ctx context.Context, user, pass string, st *tls.ConnectionState) (Grant, error) {
		g, err := fakeAuth{}.Authorize(ctx, user, pass, st)
		if err == nil && len(kickNow) > 0 {
			<-kickNow
			b.Kick(g.Identity)
		}
		return g, err
	})
	b = startBroker(t, auth)
	kickNow <- true
	if _, err := connect(t, b, "dev:pump1", "secret"); err == nil {
		t.Fatal("a CONNECT kicked while being authorized got through")
	}
	mustConnect(t, b, "dev:pump1") // the next one is fine
}

func TestConnectionEndsAtDeadline(t *testing.T) {
	// The deadline is set when the CONNECT is authorized, so that a slow
	// broker start on a loaded machine cannot put it in the past.
	var mu sync.Mutex
	var deadline time.Time
	b := startBroker(t, fakeAuth{deadline: func(string) time.Time {
		mu.Lock()
		defer mu.Unlock()
		deadline = clock.Real{}.Now().Add(1500 * time.Millisecond)
		return deadline
	}})
	dev := mustConnect(t, b, "dev:pump1")
	select {
	case <-dev.lost:
		mu.Lock()
		defer mu.Unlock()
		if now := (clock.Real{}).Now(); now.Before(deadline) {
			t.Fatalf("connection ended %v before its deadline", deadline.Sub(now))
		}
	case <-time.After(20 * time.Second):
		t.Fatal("connection outlived its deadline by far")
	}
}

func TestBrokerPushReachesDevice(t *testing.T) {
	b := startBroker(t, fakeAuth{})
	dev := mustConnect(t, b, "dev:pump1")
	got := subscribe(t, dev, "tollgate/v1/c1/pump1/control")
	if err := b.Publish("tollgate/v1/c1/pump1/control", []byte("revocation-list")); err != nil {
		t.Fatal(err)
	}
	if m := next(t, got); m != "tollgate/v1/c1/pump1/control revocation-list" {
		t.Fatalf("device got %q", m)
	}
}

// TestSurvivesMalformedPackets throws garbage at the MQTT listener from many
// connections; a well-behaved device still connects and publishes after.
func TestSurvivesMalformedPackets(t *testing.T) {
	b := startBroker(t, fakeAuth{})
	garbage := [][]byte{
		{0xff, 0xff, 0xff, 0xff, 0xff},               // bad type, bad length
		{0x10, 0xff, 0xff, 0xff, 0xff, 0x7f},         // CONNECT with a 5-byte length
		{0x10, 0x0a, 0x00, 0x04, 'M', 'Q', 'T', 'T'}, // truncated CONNECT
		{0x10, 0x04, 0x00, 0x06, 'M', 'Q'},           // wrong protocol name length
		{0x30, 0x02, 0x00, 0x00},                     // PUBLISH before CONNECT
		[]byte("GET / HTTP/1.1\r\n\r\n"),
	}
	var closed atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 300; i++ {
		wg.Add(1)
		go func(p []byte) {
			defer wg.Done()
			c, err := net.DialTimeout("tcp", b.MQTTAddr(), 5*time.Second)
			if err != nil {
				return
			}
			defer c.Close()
			c.Write(p)
			c.SetReadDeadline(clock.Real{}.Now().Add(5 * time.Second))
			if _, err := io.ReadAll(c); err == nil {
				closed.Add(1)
			}
		}(garbage[i%len(garbage)])
	}
	wg.Wait()
	if closed.Load() == 0 {
		t.Fatal("the broker closed none of the malformed connections")
	}
	dev := mustConnect(t, b, "dev:pump1")
	publish(t, dev, "tollgate/v1/c1/pump1/telemetry", "still alive")
}

func TestTopicToSubject(t *testing.T) {
	tests := []struct {
		name, topic string
		wild        bool
		want        string
		err         bool
	}{
		{"ok/plain", "tollgate/v1/c1/d1/telemetry", false, "tollgate.v1.c1.d1.telemetry", false},
		{"ok/dot-in-id", "tollgate/v1/c1/pump.1/telemetry", false, "tollgate.v1.c1.pump//1.telemetry", false},
		{"ok/plus", "tollgate/v1/c1/+/telemetry", true, "tollgate.v1.c1.*.telemetry", false},
		{"ok/hash", "tollgate/v1/c1/#", true, "tollgate.v1.c1.>", false},
		{"error/wildcard-in-topic", "tollgate/v1/+/x", false, "", true},
		{"error/hash-not-last", "a/#/b", true, "", true},
		{"error/empty-level", "a//b", false, "", true},
		{"error/leading-slash", "/a", false, "", true},
		{"error/nats-wildcard", "a/*/b", true, "", true},
		{"error/space", "a b", false, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := topicToSubject(tt.topic, tt.wild)
			if tt.err != (err != nil) || got != tt.want {
				t.Fatalf("topicToSubject(%q) = %q, %v", tt.topic, got, err)
			}
		})
	}
	if dev, ok := telemetryDevice("tollgate.v1.c1.pump//1.telemetry"); !ok || dev != "pump.1" {
		t.Fatalf("telemetryDevice = %q, %v", dev, ok)
	}
}

func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(io.Writer(logWriter{}), nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

type logWriter struct{}

func (logWriter) Write(p []byte) (int, error) { fmt.Print(string(p)); return len(p), nil }
