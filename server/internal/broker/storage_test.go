package broker

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/nats-io/nats.go"
	"github.com/tollgate-iot/tollgate/internal/testkit/dirsize"
)

// TestRetainedFloodDoesNotFillTheDisk performs the disk fill: a licensed
// device publishes 256 KiB retained messages to many topics under its own
// tree. The broker's data directory grows by less than retainedGrowthBound,
// the device keeps its connection (each publish is acknowledged and
// delivered as an ordinary message), every retained store is refused and
// counted, and a subscriber arriving afterwards is sent no retained
// message: the first message it gets is a later sentinel.
func TestRetainedFloodDoesNotFillTheDisk(t *testing.T) {
	const (
		messages            = 64
		payloadBytes        = 256 << 10
		retainedGrowthBound = 4 << 20 // 16 MiB were published
	)
	dir := t.TempDir()
	b, err := Start(Config{StoreDir: dir, Auth: fakeAuth{}, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	dev := mustConnect(t, b, "dev:pump1")
	before := dirsize.Of(t, dir)
	payload := bytes.Repeat([]byte{'x'}, payloadBytes)
	for i := range messages {
		tok := dev.c.Publish(fmt.Sprintf("tollgate/v1/c1/pump1/state/%d", i), 1, true, payload)
		if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("retained publish %d: %v", i, tok.Error())
		}
	}
	eventually(t, func() bool { return b.RetainedRefused() >= messages }, func() string {
		return fmt.Sprintf("RetainedRefused = %d, want %d", b.RetainedRefused(), messages)
	})
	if grew := dirsize.Of(t, dir) - before; grew > retainedGrowthBound {
		t.Fatalf("%d retained messages of %d bytes grew the broker's data directory by %d bytes (bound %d)",
			messages, payloadBytes, grew, retainedGrowthBound)
	}
	svc := mustConnect(t, b, "svc:dash")
	got := subscribe(t, svc, "tollgate/v1/c1/#")
	publish(t, dev, "tollgate/v1/c1/pump1/telemetry", "sentinel")
	if m := next(t, got); m != "tollgate/v1/c1/pump1/telemetry sentinel" {
		t.Fatalf("a new subscriber got %.60q before the sentinel: a retained message was kept", m)
	}
}

// TestOversizedPublishIsRefused: a device publishing more than MaxPayload
// is disconnected and the message reaches nobody; its next connection
// publishes normally.
func TestOversizedPublishIsRefused(t *testing.T) {
	const maxPayload = MinMaxPayload
	b, err := Start(Config{StoreDir: t.TempDir(), Auth: fakeAuth{}, Logger: testLogger(), MaxPayload: maxPayload})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	svc := mustConnect(t, b, "svc:dash")
	got := subscribe(t, svc, "tollgate/v1/c1/#")
	dev := mustConnect(t, b, "dev:pump1")
	dev.c.Publish("tollgate/v1/c1/pump1/telemetry", 1, false, bytes.Repeat([]byte{'x'}, 2*maxPayload)).WaitTimeout(5 * time.Second)
	select {
	case <-dev.lost:
	case <-time.After(10 * time.Second):
		t.Fatal("a device that published twice MaxPayload is still connected")
	}
	dev = mustConnect(t, b, "dev:pump1")
	publish(t, dev, "tollgate/v1/c1/pump1/telemetry", "sentinel")
	if m := next(t, got); m != "tollgate/v1/c1/pump1/telemetry sentinel" {
		t.Fatalf("subscriber got %.60q before the sentinel", m)
	}
}

// TestJetStreamLimitsApplied reads the limits back from the running
// server: the configured ones, and the defaults when none are given.
func TestJetStreamLimitsApplied(t *testing.T) {
	tests := []struct {
		name                 string
		cfg                  Config
		store, memory, mpayl int64
	}{
		{"ok/defaults", Config{}, DefaultJetStreamMaxStore, DefaultJetStreamMaxMemory, DefaultMaxPayload},
		{"ok/configured", Config{JetStreamMaxStore: 64 << 20, JetStreamMaxMemory: 8 << 20, MaxPayload: 128 << 10}, 64 << 20, 8 << 20, 128 << 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.StoreDir, cfg.Auth, cfg.Logger = t.TempDir(), fakeAuth{}, testLogger()
			b, err := Start(cfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(b.Close)
			vz, err := b.ns.Varz(nil)
			if err != nil {
				t.Fatal(err)
			}
			if vz.JetStream.Config == nil || vz.JetStream.Config.MaxStore != tt.store || vz.JetStream.Config.MaxMemory != tt.memory {
				t.Fatalf("JetStream config %+v, want store %d, memory %d", vz.JetStream.Config, tt.store, tt.memory)
			}
			if int64(vz.MaxPayload) != tt.mpayl {
				t.Fatalf("max_payload %d, want %d", vz.MaxPayload, tt.mpayl)
			}
		})
	}
}

func TestConfigValidateLimits(t *testing.T) {
	ok := Config{StoreDir: "x", Auth: fakeAuth{}}
	tests := []struct {
		name string
		edit func(*Config)
		ok   bool
	}{
		{"ok/defaults", func(*Config) {}, true},
		{"ok/bounds", func(c *Config) {
			c.MaxPayload, c.JetStreamMaxStore, c.JetStreamMaxMemory = MaxMaxPayload, MinJetStreamMaxStore, MinJetStreamMaxMemory
		}, true},
		{"error/payload-small", func(c *Config) { c.MaxPayload = MinMaxPayload - 1 }, false},
		{"error/payload-large", func(c *Config) { c.MaxPayload = MaxMaxPayload + 1 }, false},
		{"error/payload-negative", func(c *Config) { c.MaxPayload = -1 }, false},
		{"error/store-small", func(c *Config) { c.JetStreamMaxStore = MinJetStreamMaxStore - 1 }, false},
		{"error/memory-small", func(c *Config) { c.JetStreamMaxMemory = MinJetStreamMaxMemory - 1 }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.edit(&c)
			if err := c.Validate(); (err == nil) != tt.ok {
				t.Fatalf("Validate: %v", err)
			}
		})
	}
}

// TestRetainedKeptBeforeArePurged: a data directory whose retained stream
// accepts messages (as nats-server makes it) and holds one is set to
// refuse them and emptied at the next start.
func TestRetainedKeptBeforeArePurged(t *testing.T) {
	dir := t.TempDir()
	b, err := Start(Config{StoreDir: dir, Auth: fakeAuth{}, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	js, err := b.nc.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.UpdateStream(&nats.StreamConfig{Name: retainedStream, Subjects: []string{retainedStreamSubject},
		Storage: nats.FileStorage, Replicas: 1, MaxMsgsPerSubject: 1}); err != nil {
		t.Fatal(err)
	}
	dev := mustConnect(t, b, "dev:pump1")
	if tok := dev.c.Publish("tollgate/v1/c1/pump1/state", 1, true, "old"); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	eventually(t, func() bool {
		si, err := js.StreamInfo(retainedStream)
		return err == nil && si.State.Msgs == 1
	}, func() string { return "the retained message was not stored with the permissive stream" })
	dev.c.Disconnect(100)
	b.Close()

	b, err = Start(Config{StoreDir: dir, Auth: fakeAuth{}, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	js, err = b.nc.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	si, err := js.StreamInfo(retainedStream)
	if err != nil || si.State.Msgs != 0 || si.Config.MaxMsgSize != retainedMaxMsgSize {
		t.Fatalf("retained stream after restart: %+v %+v, %v", si.State, si.Config, err)
	}
	svc := mustConnect(t, b, "svc:dash")
	got := subscribe(t, svc, "tollgate/v1/c1/#")
	dev = mustConnect(t, b, "dev:pump1")
	publish(t, dev, "tollgate/v1/c1/pump1/telemetry", "sentinel")
	if m := next(t, got); m != "tollgate/v1/c1/pump1/telemetry sentinel" {
		t.Fatalf("a new subscriber got %q before the sentinel", m)
	}
}

// TestOfflineSubscriberBacklogIsBounded fills the store through an
// application's persistent session: it subscribes at QoS 1 and goes
// offline, and a device publishes half again the JetStream store in QoS 1
// messages. Every publish is acknowledged, the device stays connected, a
// new device still connects (its session finds room), and the data
// directory stays within the store limit.
func TestOfflineSubscriberBacklogIsBounded(t *testing.T) {
	const (
		store        = MinJetStreamMaxStore
		payloadBytes = 60 << 10
		messages     = store * 3 / 2 / payloadBytes
	)
	dir := t.TempDir()
	b, err := Start(Config{StoreDir: dir, Auth: fakeAuth{}, Logger: testLogger(), JetStreamMaxStore: store})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	app := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + b.MQTTAddr()).SetClientID("svc:dash/archive").
		SetUsername("svc:dash").SetPassword("secret").SetCleanSession(false).SetOrderMatters(false))
	if tok := app.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("application: %v", tok.Error())
	}
	if tok := app.Subscribe("tollgate/v1/c1/+/telemetry", 1, nil); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	app.Disconnect(100)
	dev := mustConnect(t, b, "dev:pump1")
	payload := bytes.Repeat([]byte{'x'}, payloadBytes)
	for i := range messages {
		if tok := dev.c.Publish("tollgate/v1/c1/pump1/telemetry", 1, false, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish %d of %d: %v", i+1, messages, tok.Error())
		}
	}
	select {
	case <-dev.lost:
		t.Fatal("the device was disconnected")
	default:
	}
	mustConnect(t, b, "dev:pump2")
	if size := dirsize.Of(t, dir); size > store {
		t.Fatalf("data directory %d bytes, store limit %d", size, store)
	}
}

// TestQoS2PublishIsRefused: a QoS 2 PUBLISH closes the device's
// connection and reaches nobody; an application subscribing at QoS 2 is
// served at QoS 1.
func TestQoS2PublishIsRefused(t *testing.T) {
	b := startBroker(t, fakeAuth{})
	svc := mustConnect(t, b, "svc:dash")
	got := make(chan string, 10)
	tok := svc.c.Subscribe("tollgate/v1/c1/+/telemetry", 2, func(_ mqtt.Client, m mqtt.Message) { got <- string(m.Payload()) })
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	if q := tok.(*mqtt.SubscribeToken).Result()["tollgate/v1/c1/+/telemetry"]; q != 1 {
		t.Fatalf("QoS 2 subscription granted QoS %d, want 1", q)
	}
	dev := mustConnect(t, b, "dev:pump1")
	dev.c.Publish("tollgate/v1/c1/pump1/telemetry", 2, false, "qos2").WaitTimeout(5 * time.Second)
	select {
	case <-dev.lost:
	case <-time.After(10 * time.Second):
		t.Fatal("a device publishing at QoS 2 is still connected")
	}
	dev = mustConnect(t, b, "dev:pump1")
	publish(t, dev, "tollgate/v1/c1/pump1/telemetry", "sentinel")
	select {
	case m := <-got:
		if m != "sentinel" {
			t.Fatalf("subscriber got %q before the sentinel", m)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no sentinel within 10 s")
	}
}
