package localbroker

import (
	"errors"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

func TestParseAddr(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		err      error
	}{
		{"ok/any-port", "127.0.0.1:0", nil},
		{"ok/localhost", "localhost:1884", nil},
		{"ok/ipv6", "[::1]:0", nil},
		{"error/all-interfaces", "0.0.0.0:1883", ErrAddr},
		{"error/public", "192.0.2.1:1883", ErrAddr},
		{"error/no-port", "127.0.0.1", ErrAddr},
		{"error/bad-port", "127.0.0.1:70000", ErrAddr},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := ParseAddr(tc.in); !errors.Is(err, tc.err) {
				t.Fatalf("ParseAddr(%q) = %v, want %v", tc.in, err, tc.err)
			}
		})
	}
}

func TestStartOnBusyPort(t *testing.T) {
	b, err := Start("127.0.0.1:0", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := Start(strings.TrimPrefix(b.URL(), "tcp://"), t.TempDir()); !errors.Is(err, ErrStart) {
		t.Fatalf("second broker on %s: %v, want ErrStart", b.URL(), err)
	}
}

// TestRoundTrip: a child's QoS 1 publish reaches a persistent-session
// subscriber, as the agent's bridge subscribes.
func TestRoundTrip(t *testing.T) {
	b, err := Start("127.0.0.1:0", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	got := make(chan string, 1)
	sub := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(b.URL()).SetClientID("bridge").SetCleanSession(false))
	if tok := sub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer sub.Disconnect(100)
	if tok := sub.Subscribe("tollgate/local/+/samples", 1, func(_ mqtt.Client, m mqtt.Message) { got <- m.Topic() + " " + string(m.Payload()) }); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	pub := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(b.URL()).SetClientID("child"))
	if tok := pub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer pub.Disconnect(100)
	if tok := pub.Publish("tollgate/local/c1/samples", 1, false, `{"data":{}}`); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	select {
	case m := <-got:
		if m != `tollgate/local/c1/samples {"data":{}}` {
			t.Fatalf("got %q", m)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("nothing delivered")
	}
}
