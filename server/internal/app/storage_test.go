package app

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/internal/testkit/dirsize"
)

// TestServeBrokerStorageIsBounded performs the disk fill through serve
// with a real token: a licensed device publishes 256 KiB retained messages
// to topics under its own tree, the last to its telemetry topic.
// DATA/broker/ grows by less than a small
// bound, every retained store is refused (and counted in /metrics), a new
// subscriber is sent none of them, and a publish over --mqtt-max-payload
// disconnects the device and reaches nobody.
func TestServeBrokerStorageIsBounded(t *testing.T) {
	const (
		messages     = 32
		payloadBytes = 256 << 10
		growthBound  = 4 << 20 // 8 MiB were published
		maxPayload   = 300 << 10
	)
	s := serveWithBroker(t, func(c *Config) { c.MQTTMaxPayload = maxPayload })
	acme, tok := s.customerDevice("acme", "press-1")
	dev, err := s.connect("press-1", tok)
	if err != nil {
		t.Fatal(err)
	}
	dir := BrokerDir(s.dir)
	before := dirsize.Of(t, dir)
	payload := bytes.Repeat([]byte{'x'}, payloadBytes)
	for i := range messages {
		topic := fmt.Sprintf("tollgate/v1/acme/press-1/state/%d", i)
		if i == messages-1 {
			topic = "tollgate/v1/acme/press-1/telemetry" // what an application may subscribe to
		}
		pt := dev.c.Publish(topic, 1, true, payload)
		if !pt.WaitTimeout(10*time.Second) || pt.Error() != nil {
			t.Fatalf("retained publish %d: %v", i, pt.Error())
		}
	}
	s.waitMetric(fmt.Sprintf("tollgate_broker_retained_refused %d", messages))
	if grew := dirsize.Of(t, dir) - before; grew > growthBound {
		t.Fatalf("%d retained messages of %d bytes grew %s by %d bytes (bound %d)", messages, payloadBytes, dir, grew, growthBound)
	}

	dash, err := s.connect("svc:dashboard", acme)
	if err != nil {
		t.Fatal(err)
	}
	got := dash.subscribe(t, "tollgate/v1/acme/+/telemetry")
	dev.c.Publish("tollgate/v1/acme/press-1/telemetry", 1, false, bytes.Repeat([]byte{'x'}, maxPayload+1)).WaitTimeout(5 * time.Second)
	select {
	case <-dev.lost:
	case <-time.After(10 * time.Second):
		t.Fatal("a device over --mqtt-max-payload is still connected")
	}
	if dev, err = s.connect("press-1", tok); err != nil {
		t.Fatal(err)
	}
	if pt := dev.c.Publish("tollgate/v1/acme/press-1/telemetry", 1, false, "sentinel"); !pt.WaitTimeout(5*time.Second) || pt.Error() != nil {
		t.Fatal(pt.Error())
	}
	if m := receive(t, got, "the sentinel"); string(m.Payload()) != "sentinel" {
		t.Fatalf("a new subscriber got %s %.40q before the sentinel", m.Topic(), m.Payload())
	}
}
