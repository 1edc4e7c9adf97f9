package e2e

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/tollgate-iot/tollgate/internal/testkit/harness"
	"github.com/tollgate-iot/tollgate/server/internal/store/storetest"
	"github.com/tollgate-iot/tollgate/shared/clock"
	"github.com/tollgate-iot/tollgate/shared/token"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

func newDevicePublicKey(t *testing.T) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return token.EncodePublicKey(pub)
}

// mqttClient is an MQTT connection of the test, with a channel closed when
// it is lost.
type mqttClient struct {
	c    mqtt.Client
	lost chan struct{}
	at   time.Time // when it was lost
	msgs chan string
}

func dialMQTT(addr, clientID, user, pass string) (*mqttClient, error) {
	m := &mqttClient{lost: make(chan struct{}), msgs: make(chan string, 100)}
	var once sync.Once
	opts := mqtt.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(clientID).
		SetUsername(user).SetPassword(pass).SetAutoReconnect(false).SetConnectRetry(false).
		SetConnectTimeout(5 * time.Second).
		SetConnectionLostHandler(func(mqtt.Client, error) {
			once.Do(func() { m.at = clock.Real{}.Now(); close(m.lost) })
		})
	m.c = mqtt.NewClient(opts)
	tok := m.c.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		return nil, errors.New("connect timed out")
	}
	return m, tok.Error()
}

// TestReplicasBrokerCluster runs three replicas over one PostgreSQL
// database whose embedded brokers form one cluster:
//   - an application subscribed through replica A receives the telemetry
//     a device publishes through replica C, and the ledger's observed
//     count of it is what was sent (each message counted by one member);
//   - a device connected to replica A is disconnected when its license is
//     revoked through replica B's API, and every replica then refuses its
//     token at CONNECT.
func TestReplicasBrokerCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs three servers")
	}
	rs, adminKey := startClusterSet(t, build(t), storetest.PostgresURL(t), replicaCount)
	a, b, c := rs[0], rs[1], rs[2]
	admin := adminOn(t, a, adminKey)
	admin.call("POST", "/v1/customers", wire.CreateCustomerRequest{ID: "acme", Name: "Acme", ParentID: "root"}, nil)
	var u wire.CreateUserResponse
	admin.call("POST", "/v1/users", wire.CreateUserRequest{CustomerID: "acme", Email: "it@acme.test", Role: "admin"}, &u)
	acme := adminOn(t, a, u.APIKey)
	var ls wire.LicenseList
	admin.call("POST", "/v1/licenses", wire.CreateLicenseRequest{CustomerID: "acme", Type: "standard", Billing: "term",
		Models: []string{"*"}, Count: 2}, &ls)
	tokens := map[string]string{}
	for i, dev := range []string{"press-1", "press-2"} {
		acme.call("POST", "/v1/devices", wire.CreateDeviceRequest{ID: dev, CustomerID: "acme", Model: "press", PublicKey: newDevicePublicKey(t)}, nil)
		var br wire.BindResponse
		acme.call("POST", "/v1/licenses/"+ls.Licenses[i].ID+"/bind", wire.BindRequest{DeviceID: dev}, &br)
		tokens[dev] = br.Token.Token
	}

	// The cluster's JetStream needs a quorum before MQTT sessions work.
	var app *mqttClient
	harness.Eventually(t, replicaDeadline, func() bool {
		var err error
		app, err = dialMQTT(a.mqtt, "svc:dash/1", "svc:dash", u.APIKey)
		return err == nil
	}, "an application connects to replica A once the broker cluster is up")
	defer app.c.Disconnect(100)
	if tok := app.c.Subscribe("tollgate/v1/acme/+/telemetry", 1, func(_ mqtt.Client, m mqtt.Message) { app.msgs <- string(m.Payload()) }); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	pub, err := dialMQTT(c.mqtt, "press-1", "press-1", tokens["press-1"])
	if err != nil {
		t.Fatalf("press-1 on replica C: %v", err)
	}
	defer pub.c.Disconnect(100)
	const sent = 10
	for i := range sent {
		if tok := pub.c.Publish("tollgate/v1/acme/press-1/telemetry", 1, false, fmt.Sprintf("s%d", i)); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
	}
	for i := range sent {
		select {
		case m := <-app.msgs:
			if m != fmt.Sprintf("s%d", i) {
				t.Fatalf("application on A got %q, want s%d", m, i)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("application on A got %d of %d messages published on C", i, sent)
		}
	}
	var tel wire.DeviceTelemetry
	harness.Eventually(t, 30*time.Second, func() bool {
		admin.call("GET", "/v1/devices/press-1/telemetry", nil, &tel)
		return tel.Observed >= sent
	}, "the ledger holds the observed telemetry")
	time.Sleep(2 * time.Second) // two more flushes: a member that counted the messages too would have written by now
	admin.call("GET", "/v1/devices/press-1/telemetry", nil, &tel)
	if tel.Observed != sent {
		t.Fatalf("observed %d messages, %d sent: counted by more than one member", tel.Observed, sent)
	}

	dev, err := dialMQTT(a.mqtt, "press-2", "press-2", tokens["press-2"])
	if err != nil {
		t.Fatalf("press-2 on replica A: %v", err)
	}
	start := clock.Real{}.Now()
	adminOn(t, b, adminKey).call("POST", "/v1/licenses/"+ls.Licenses[1].ID+"/revoke", nil, nil)
	select {
	case <-dev.lost:
		t.Logf("press-2 on replica A disconnected %v after its revoke was sent to replica B (target: within 1 s)", dev.at.Sub(start))
	case <-time.After(10 * time.Second):
		t.Fatal("press-2 on replica A still connected 10 s after its license was revoked through replica B")
	}
	for i, r := range rs {
		if m, err := dialMQTT(r.mqtt, "press-2", "press-2", tokens["press-2"]); err == nil {
			m.c.Disconnect(100)
			t.Fatalf("replica %d admitted press-2 with the token of its revoked license", i)
		}
	}
}
