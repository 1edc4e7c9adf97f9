package broker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/tollgate-iot/tollgate/internal/testkit/mosquitto"
	"github.com/tollgate-iot/tollgate/shared/clock"
)

// startMosquitto runs mosquitto as a child process on a free loopback port
// with extra config lines and returns its tcp:// URL.
func startMosquitto(t *testing.T, extra string) string {
	t.Helper()
	return mosquitto.Start(t, extra).URL
}

// plainClient connects a paho client to any broker.
func plainClient(t *testing.T, url, id string) mqtt.Client {
	t.Helper()
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(url).SetClientID(id).SetUsername(id).SetPassword("any").
		SetAutoReconnect(false).SetOrderMatters(false).SetConnectTimeout(5 * time.Second))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %s to %s: %v", id, url, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

// TestExternalBrokerPushesAndObserves runs the service client against
// Mosquitto: a device subscribed to its control topic receives what the
// server publishes, the telemetry it publishes is counted under its topic's
// customer and device, and Kick can do nothing there.
func TestExternalBrokerPushesAndObserves(t *testing.T) {
	url := startMosquitto(t, "allow_anonymous true\n")
	sink := &sinkFlush{got: map[string]int64{}}
	o := NewObserver(clock.Real{}, sink.flush, testLogger())
	e, err := DialExternal(ExternalConfig{URL: url, Observer: o, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if e.MQTTAddr() != url || e.Kick("dev-1") != 0 {
		t.Fatalf("addr %s", e.MQTTAddr())
	}
	dev := plainClient(t, url, "dev-1")
	got := make(chan string, 4)
	if tok := dev.Subscribe("tollgate/v1/acme/dev-1/control", 1, func(_ mqtt.Client, m mqtt.Message) { got <- string(m.Payload()) }); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	if err := e.Publish("tollgate/v1/acme/dev-1/control", []byte("tg1.sys.doc")); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-got:
		if m != "tg1.sys.doc" {
			t.Fatalf("device got %q", m)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the push did not reach the device through mosquitto")
	}
	if err := e.Publish("tollgate/v1/+/dev-1/control", nil); err == nil {
		t.Fatal("published to a wildcard topic")
	}

	ts := wall.Now().Add(-3 * time.Hour).UTC()
	// The subscription is made on connect; wait until a message is seen.
	deadline := wall.Now().Add(10 * time.Second)
	sent := 0
	for o.Total() == 0 && wall.Now().Before(deadline) {
		dev.Publish("tollgate/v1/acme/dev-1/telemetry", 1, false, envelope(ts.Format(time.RFC3339))).WaitTimeout(5 * time.Second)
		sent++
		time.Sleep(20 * time.Millisecond)
	}
	for range 5 {
		dev.Publish("tollgate/v1/acme/dev-1/telemetry", 1, false, envelope(ts.Format(time.RFC3339))).WaitTimeout(5 * time.Second)
		sent++
	}
	for o.Total() < int64(sent) && wall.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if err := o.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	k := fmt.Sprintf("acme/dev-1/%d", ts.Truncate(time.Hour).Unix())
	if n := sink.count(k); n != int64(sent) {
		t.Fatalf("%s: observed %d, want %d", k, n, sent)
	}
}

// TestExternalBrokerWithCredentials: a broker that requires a password
// refuses the service client without it and admits it with it.
func TestExternalBrokerWithCredentials(t *testing.T) {
	pw := filepath.Join(t.TempDir(), "passwd")
	if err := os.WriteFile(pw, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	passwd, err := exec.LookPath("mosquitto_passwd")
	if err != nil {
		t.Skip("mosquitto_passwd not installed (Debian package mosquitto)")
	}
	if out, err := exec.Command(passwd, "-b", pw, "tollgate", "s3cret").CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_passwd: %v %s", err, out)
	}
	url := startMosquitto(t, "allow_anonymous false\npassword_file "+pw+"\n")
	if _, err := DialExternal(ExternalConfig{URL: url, Logger: testLogger(), ConnectTimeout: 3 * time.Second}); err == nil {
		t.Fatal("connected without credentials")
	}
	e, err := DialExternal(ExternalConfig{URL: url, Username: "tollgate", Password: "s3cret", Logger: testLogger()})
	if err != nil {
		t.Fatalf("with credentials: %v", err)
	}
	e.Close()
}

func TestCheckExternalURL(t *testing.T) {
	tests := []struct {
		name, url string
		ok        bool
	}{
		{"ok/tcp", "tcp://127.0.0.1:1884", true},
		{"ok/ssl", "ssl://mqtt.example:8883", true},
		{"no/scheme", "mqtt://127.0.0.1:1884", false},
		{"no/port", "tcp://127.0.0.1", false},
		{"no/userinfo", "tcp://u:p@127.0.0.1:1884", false},
		{"no/path", "tcp://127.0.0.1:1884/x", false},
		{"no/query", "tcp://127.0.0.1:1884?x=1", false},
		{"no/empty", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckExternalURL(tc.url)
			if (err == nil) != tc.ok || err != nil && !errors.Is(err, ErrExternalURL) {
				t.Fatalf("%v", err)
			}
		})
	}
}

// TestExternalPublishWhileDownFailsAtOnce: once the broker is gone, a
// publish fails at once instead of waiting for paho's reconnect.
func TestExternalPublishWhileDownFailsAtOnce(t *testing.T) {
	m := mosquitto.Start(t, mosquitto.Anonymous)
	e, err := DialExternal(ExternalConfig{URL: m.URL, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if err := e.Publish("tollgate/v1/acme/dev-1/control", []byte("x")); err != nil {
		t.Fatalf("publish while up: %v", err)
	}
	m.Kill()
	deadline := wall.Now().Add(10 * time.Second)
	for e.c.IsConnectionOpen() && wall.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	// ErrExternalDown comes from the check before publishing; waiting for
	// a PUBACK would end in a timeout error instead.
	if err := e.Publish("tollgate/v1/acme/dev-1/control", []byte("x")); !errors.Is(err, ErrExternalDown) {
		t.Fatalf("publish while down: %v", err)
	}
}
