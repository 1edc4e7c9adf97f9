package brokers

import (
	"encoding/json"
	"runtime"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/tollgate-iot/tollgate/internal/testkit/harness"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

func envelope(t *testing.T, device string, seq int64) []byte {
	t.Helper()
	b, err := json.Marshal(wire.Telemetry{V: 1, DeviceID: device, CustomerID: "acme", LicenseID: "6f1c2a7e-0b3d-4e5f-8a9b-0c1d2e3f4a5b",
		Seq: seq, TS: "2026-12-01T12:00:00Z", Data: json.RawMessage(`{"n":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wire.ParseTelemetry(b); err != nil {
		t.Fatalf("test envelope does not parse: %v", err)
	}
	return b
}

// TestSubscribeWithChecksTopic publishes through the embedded broker's
// MQTT listener: an envelope on its own device's topic is recorded, one
// on another device's topic counts as bad.
func TestSubscribeWithChecksTopic(t *testing.T) {
	n := StartNATSNoSink(t, t.TempDir())
	sink := SubscribeWith(t, n.URL, SubscribeOptions{User: "observer", Password: "x", CheckTopic: true})
	pub := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(n.URL).SetClientID("publisher").SetUsername("pub").SetPassword("x"))
	if tok := pub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer pub.Disconnect(100)
	send := func(topic string, b []byte) {
		if tok := pub.Publish(topic, 1, false, b); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
	}
	send(wire.TelemetryTopic("acme", "press-01"), envelope(t, "press-02", 1)) // wrong topic
	send(wire.TelemetryTopic("acme", "press-01"), envelope(t, "press-01", 1))
	send(wire.TelemetryTopic("acme", "press-01"), envelope(t, "press-01", 1)) // duplicate
	if !sink.WaitUnique(1, 10*time.Second) {
		t.Fatal("the envelope on its own topic never arrived")
	}
	harness.Eventually(t, 10*time.Second, func() bool { _, dups, _, bad := sink.Stats(); return dups == 1 && bad == 1 },
		"the duplicate and the envelope on the wrong topic")
	if sink.Unique("press-01") != 1 || sink.Unique("press-02") != 0 || sink.Bad() != 1 {
		t.Fatalf("unique press-01 %d, press-02 %d, bad %d; want 1, 0, 1", sink.Unique("press-01"), sink.Unique("press-02"), sink.Bad())
	}
}

// TestBarrierWaitsForMarker: Barrier returns once its marker is in the
// sink, and fails when the sink never gets it.
func TestBarrierWaitsForMarker(t *testing.T) {
	n := StartNATSNoSink(t, t.TempDir())
	sink := SubscribeWith(t, n.URL, SubscribeOptions{User: "observer", Password: "x"})
	Barrier(t, n.URL, sink, 10*time.Second)
	if sink.Unique(MarkerDevice) != 1 {
		t.Fatalf("marker count %d, want 1", sink.Unique(MarkerDevice))
	}
	deaf := NewSink()
	ok := make(chan bool)
	ft := &fatalT{TB: t}
	go func() {
		defer func() { ok <- ft.failed }()
		Barrier(ft, n.URL, deaf, 100*time.Millisecond)
	}()
	if !<-ok {
		t.Fatal("Barrier returned without its marker in the sink")
	}
}

// fatalT turns Fatalf into a recorded failure that ends the goroutine.
type fatalT struct {
	testing.TB
	failed bool
}

func (f *fatalT) Fatalf(string, ...any) { f.failed = true; runtime.Goexit() }
