package app

import (
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/tollgate-iot/tollgate/internal/testkit/mosquitto"
	"github.com/tollgate-iot/tollgate/server/internal/keys"
	"github.com/tollgate-iot/tollgate/shared/clock"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
	"github.com/tollgate-iot/tollgate/shared/token"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// TestServeWithExternalBroker: serve --broker tcp://(mosquitto) names the
// broker as its MQTT address, pushes a signed token push to the device's control topic when a
// top-up signs a new token version, and counts the telemetry it sees on
// mosquitto into the ledger. Mosquitto itself checks nothing at CONNECT:
// the device connects with any password (docs/server.md).
func TestServeWithExternalBroker(t *testing.T) {
	url := mosquitto.Start(t, mosquitto.Anonymous).URL
	s := serveWithBroker(t, func(c *Config) { c.Broker, c.ObservedFlushInterval = url, 100*time.Millisecond })
	if s.mqtt != url {
		t.Fatalf("MQTTAddr() = %s, want %s", s.mqtt, url)
	}
	s.call("POST", "/v1/customers", s.admin, wire.CreateCustomerRequest{ID: "acme", Name: "Acme"}, nil)
	var u wire.CreateUserResponse
	s.call("POST", "/v1/users", s.admin, wire.CreateUserRequest{CustomerID: "acme", Email: "it@acme.test", Role: "admin"}, &u)
	var ls wire.LicenseList
	s.call("POST", "/v1/licenses", s.admin, wire.CreateLicenseRequest{CustomerID: "acme", Type: "standard", Billing: "days",
		Days: 3, Models: []string{"*"}}, &ls)
	lic := ls.Licenses[0].ID
	s.provision(u.APIKey, "press-1") // a term license too: the push carries both tokens
	s.call("POST", "/v1/licenses/"+lic+"/bind", u.APIKey, wire.BindRequest{DeviceID: "press-1"}, nil)

	s.mqttScheme = "" // s.mqtt is the broker's URL
	dev, err := s.connect("press-1", "anything: mosquitto does not check")
	if err != nil {
		t.Fatal(err)
	}
	pushes := make(chan mqtt.Message, 8)
	if tok := dev.c.Subscribe("tollgate/v1/acme/press-1/control", 1, func(_ mqtt.Client, m mqtt.Message) { pushes <- m }); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	s.call("POST", "/v1/licenses/"+lic+"/days", s.admin, wire.AddDaysRequest{Days: 7}, nil)
	ks, _ := keys.Open(s.dir, nil)
	trust, _ := ks.Trust()
	// A push of the bind may still be on its way: wait for the top-up's.
	days := int64(-1)
	for days != 10 {
		r, err := syncproto.OpenResponse(trust, "press-1", "", string(receive(t, pushes, "token push with 10 days").Payload()))
		if err != nil || len(r.Tokens) != 2 || r.RevocationList == "" {
			t.Fatalf("push: %+v, %v", r, err)
		}
		for _, text := range r.Tokens {
			if l, err := token.ParseLicense(trust, text); err == nil && l.LicenseID == lic {
				days = l.Days
			}
		}
	}

	wall := clock.Real{}
	ts := wall.Now().UTC()
	for i := range 3 {
		env := wire.AppendTelemetry(nil, &wire.Telemetry{V: 1, DeviceID: "press-1", CustomerID: "acme", LicenseID: lic, Seq: int64(i + 1),
			TS: ts.Format(time.RFC3339Nano), Data: []byte(`{}`)})
		dev.c.Publish("tollgate/v1/acme/press-1/telemetry", 1, false, env).WaitTimeout(5 * time.Second)
	}
	var v wire.DeviceTelemetry
	for deadline := wall.Now().Add(10 * time.Second); wall.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		s.call("GET", "/v1/devices/press-1/telemetry?within=2h", u.APIKey, nil, &v)
		if len(v.Hours) == 1 && v.Hours[0].Observed == 3 {
			break
		}
	}
	if len(v.Hours) != 1 || v.Hours[0].Observed != 3 || !v.Hours[0].Hour.Equal(ts.Truncate(time.Hour)) {
		t.Fatalf("observed through mosquitto: %+v", v.Hours)
	}
}
