package app

import (
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/shared/wire"
)

// customerDevice creates customer cust with an admin, registers device id
// under it and binds a new term license; it returns the admin's API key
// and the device's token.
func (s *served) customerDevice(cust, id string) (apiKey, tok string) {
	s.t.Helper()
	s.call("POST", "/v1/customers", s.admin, wire.CreateCustomerRequest{ID: cust, Name: cust}, nil)
	var u wire.CreateUserResponse
	s.call("POST", "/v1/users", s.admin, wire.CreateUserRequest{CustomerID: cust, Email: "it@" + cust + ".test", Role: "admin"}, &u)
	var ls wire.LicenseList
	s.call("POST", "/v1/licenses", s.admin, wire.CreateLicenseRequest{CustomerID: cust, Type: "standard", Billing: "term",
		Models: []string{"*"}}, &ls)
	s.call("POST", "/v1/devices", u.APIKey, wire.CreateDeviceRequest{ID: id, CustomerID: cust, Model: "m", PublicKey: devicePublicKey(s.t)}, nil)
	var b wire.BindResponse
	s.call("POST", "/v1/licenses/"+ls.Licenses[0].ID+"/bind", u.APIKey, wire.BindRequest{DeviceID: id}, &b)
	return u.APIKey, b.Token.Token
}

// TestServeRefusesAnotherTenantsClientID performs the takeover through
// serve's embedded broker with real tokens: acme's press-1 is connected as
// the agent connects (client id = device id, clean session) and subscribed
// to its control topic; globex's licensed rogue-1 CONNECTs seven times
// with press-1 as its client id. Every attempt is refused, press-1's
// connection-lost signal has not fired after them, and a message press-1
// publishes afterwards is acknowledged on its connection and reaches
// acme's dashboard.
func TestServeRefusesAnotherTenantsClientID(t *testing.T) {
	s := serveWithBroker(t)
	acme, victimToken := s.customerDevice("acme", "press-1")
	_, rogueToken := s.customerDevice("globex", "rogue-1")
	dash, err := s.connect("svc:dashboard", acme)
	if err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	telemetry := dash.subscribe(t, "tollgate/v1/acme/+/telemetry")
	victim, err := s.connect("press-1", victimToken)
	if err != nil {
		t.Fatalf("press-1: %v", err)
	}
	victim.subscribe(t, "tollgate/v1/acme/press-1/control")
	for i := range 7 {
		if _, err := s.connectAs("press-1", "rogue-1", rogueToken); err == nil {
			t.Fatalf("attempt %d: rogue-1 connected with press-1's client id", i+1)
		}
	}
	select {
	case <-victim.lost:
		t.Fatal("press-1 was disconnected by another tenant's CONNECT")
	default:
	}
	if tok := victim.c.Publish("tollgate/v1/acme/press-1/telemetry", 1, false, "after"); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("press-1 publish after the attempts: %v", tok.Error())
	}
	if m := receive(t, telemetry, "press-1's telemetry"); string(m.Payload()) != "after" {
		t.Fatalf("dashboard got %q", m.Payload())
	}
	select {
	case <-victim.lost:
		t.Fatal("press-1 lost its connection")
	default:
	}
	if _, err := s.connectAs("rogue-1", "rogue-1", rogueToken); err != nil {
		t.Fatalf("rogue-1 with its own client id: %v", err)
	}
}
