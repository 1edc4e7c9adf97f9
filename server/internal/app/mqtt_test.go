package app

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/tollgate-iot/tollgate/certs"
	"github.com/tollgate-iot/tollgate/server/internal/keys"
	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/clock"
	"github.com/tollgate-iot/tollgate/shared/token"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// served is a tollgate-server serve (an App) running in this process.
type served struct {
	t          *testing.T
	dir        string
	http, mqtt string
	admin      string
	stop       func()
	// mqttScheme is what clients dial (tcp:// or ssl://) and tlsConf
	// their TLS configuration.
	mqttScheme string
	tlsConf    *tls.Config
}

// initData does what tollgate-server init does to dir: a signing key, the
// ledger with its root customer; it returns the first admin API key.
func initData(t *testing.T, dir string) string {
	t.Helper()
	ks, err := keys.Open(dir, clock.Real{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ks.Rotate(); err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := store.Open(store.Options{Dir: LedgerDir(dir), Profile: store.ProfileSmall, Clock: clock.Real{}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	lg, err := ledger.New(ledger.Options{DB: db, Clock: clock.Real{}, Keys: ks, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	_, _, key, err := lg.Bootstrap(context.Background(), "vendor", "admin@localhost")
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// testConfig is the configuration the tests serve dir with: free loopback
// ports, the small profile, errors-only logs; the embedded broker listens
// unless a change names an external one.
func testConfig(dir string, changes ...func(*Config)) Config {
	c := DefaultConfig()
	c.DataDir, c.HTTPAddr, c.Profile, c.LogLevel = dir, "127.0.0.1:0", store.ProfileSmall, "error"
	c.MQTTAddr = "127.0.0.1:0"
	for _, change := range changes {
		change(&c)
	}
	if c.Broker != BrokerEmbedded { // an external broker has no listener here
		c.MQTTAddr = ""
	}
	return c
}

// serveWithBroker inits a data directory and serves it with the embedded
// broker on free loopback ports, with changes to the configuration.
func serveWithBroker(t *testing.T, changes ...func(*Config)) *served {
	t.Helper()
	dir := t.TempDir()
	s := &served{t: t, dir: dir, admin: initData(t, dir), mqttScheme: "tcp://"}
	s.serve(changes...)
	return s
}

// serve runs an App on s.dir with changes to the configuration until
// s.stop (or the test's end); it fills in the addresses the App bound.
func (s *served) serve(changes ...func(*Config)) {
	t := s.t
	ctx, cancel := context.WithCancel(context.Background())
	a, err := New(ctx, testConfig(s.dir, changes...), Deps{Clock: clock.Real{}})
	if err != nil {
		cancel()
		t.Fatalf("New: %v", err)
	}
	s.http, s.mqtt = a.HTTPURL(), a.MQTTAddr()
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var once sync.Once
	s.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Error("Run did not return after cancel")
			}
		})
	}
	t.Cleanup(s.stop)
}

// call sends one admin API request and decodes the answer into out.
func (s *served) call(method, path, key string, body, out any) {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.http+path, rd)
	req.Header.Set("Authorization", "Bearer "+key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		s.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			s.t.Fatalf("%s %s: %v", method, path, err)
		}
	}
}

// mqttClient is a paho client with its connection-lost signal.
type mqttClient struct {
	c    mqtt.Client
	lost chan struct{}
	at   func() time.Time // when the connection was lost
}

// connect connects with the client id the broker binds to user: a
// device's id, or an instance of an application's svc:NAME.
func (s *served) connect(user, pass string) (*mqttClient, error) {
	id := user
	if strings.HasPrefix(user, "svc:") {
		id = user + "/" + fmt.Sprint(clock.Real{}.Now().UnixNano())
	}
	return s.connectAs(id, user, pass)
}

func (s *served) connectAs(clientID, user, pass string) (*mqttClient, error) {
	cl := &mqttClient{lost: make(chan struct{})}
	var once sync.Once
	var lostAt time.Time
	cl.at = func() time.Time { <-cl.lost; return lostAt }
	opts := mqtt.NewClientOptions().AddBroker(s.mqttScheme + s.mqtt).SetTLSConfig(s.tlsConf).
		SetClientID(clientID).
		SetUsername(user).SetPassword(pass).SetAutoReconnect(false).SetConnectRetry(false).SetOrderMatters(false).
		SetConnectTimeout(5 * time.Second).
		SetConnectionLostHandler(func(mqtt.Client, error) {
			once.Do(func() { lostAt = clock.Real{}.Now(); close(cl.lost) })
		})
	cl.c = mqtt.NewClient(opts)
	tok := cl.c.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		return nil, fmt.Errorf("connect %s timed out", user)
	}
	if err := tok.Error(); err != nil {
		return nil, err
	}
	s.t.Cleanup(func() { cl.c.Disconnect(100) })
	return cl, nil
}

func (c *mqttClient) subscribe(t *testing.T, filter string) chan mqtt.Message {
	t.Helper()
	ch := make(chan mqtt.Message, 16)
	tok := c.c.Subscribe(filter, 1, func(_ mqtt.Client, m mqtt.Message) { ch <- m })
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe %s: %v", filter, tok.Error())
	}
	return ch
}

func receive(t *testing.T, ch chan mqtt.Message, what string) mqtt.Message {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s within 10 s", what)
		return nil
	}
}

// receiveRevocationList returns the next control message that is not a
// token push: the push of the device's bind is sent asynchronously and may
// arrive after the device subscribed.
func receiveRevocationList(t *testing.T, control chan mqtt.Message) mqtt.Message {
	t.Helper()
	for {
		m := receive(t, control, "revocation list on the control topic")
		if !strings.HasPrefix(string(m.Payload()), "tg1.sys.") {
			return m
		}
	}
}

func devicePublicKey(t *testing.T) string {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return token.EncodePublicKey(pub)
}

// TestServeEnforcesLicensesOnTheEmbeddedBroker serves with MQTT on a
// real ledger: a licensed device connects with its token and publishes; a
// blacklisted device is refused at CONNECT; revoking the license pushes
// the new signed revocation list to the device's control topic and
// disconnects it; its token is refused afterwards.
func TestServeEnforcesLicensesOnTheEmbeddedBroker(t *testing.T) {
	s := serveWithBroker(t)
	s.call("POST", "/v1/customers", s.admin, wire.CreateCustomerRequest{ID: "acme", Name: "Acme"}, nil)
	var u wire.CreateUserResponse
	s.call("POST", "/v1/users", s.admin, wire.CreateUserRequest{CustomerID: "acme", Email: "it@acme.test", Role: "admin"}, &u)
	acme := u.APIKey
	var ls wire.LicenseList
	s.call("POST", "/v1/licenses", s.admin, wire.CreateLicenseRequest{CustomerID: "acme", Type: "standard", Billing: "term",
		Models: []string{"sensor-*"}, Count: 2}, &ls)
	tokens := map[string]string{}
	for i, dev := range []string{"press-1", "press-2"} {
		s.call("POST", "/v1/devices", acme, wire.CreateDeviceRequest{ID: dev, CustomerID: "acme", Model: "sensor-a", PublicKey: devicePublicKey(t)}, nil)
		var b wire.BindResponse
		s.call("POST", "/v1/licenses/"+ls.Licenses[i].ID+"/bind", acme, wire.BindRequest{DeviceID: dev}, &b)
		tokens[dev] = b.Token.Token
	}
	s.call("POST", "/v1/devices/press-2/blacklist", acme, wire.BlacklistRequest{Reason: "stolen"}, nil)

	svc, err := s.connect("svc:dashboard", acme)
	if err != nil {
		t.Fatalf("service account: %v", err)
	}
	telemetry := svc.subscribe(t, "tollgate/v1/acme/+/telemetry")
	dev, err := s.connect("press-1", tokens["press-1"])
	if err != nil {
		t.Fatalf("licensed device refused: %v", err)
	}
	control := dev.subscribe(t, "tollgate/v1/acme/press-1/control")
	if tok := dev.c.Publish("tollgate/v1/acme/press-1/telemetry", 1, false, `{"t":21.5}`); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}
	if m := receive(t, telemetry, "telemetry"); m.Topic() != "tollgate/v1/acme/press-1/telemetry" || string(m.Payload()) != `{"t":21.5}` {
		t.Fatalf("service got %s %s", m.Topic(), m.Payload())
	}
	if _, err := s.connect("press-2", tokens["press-2"]); err == nil {
		t.Fatal("blacklisted device connected")
	}

	start := clock.Real{}.Now()
	s.call("POST", "/v1/licenses/"+ls.Licenses[0].ID+"/revoke", s.admin, nil, nil)
	select {
	case <-dev.lost:
		t.Logf("revoked device disconnected %v after the revoke request was sent (target: within 1 s)", dev.at().Sub(start))
	case <-time.After(10 * time.Second):
		t.Fatal("revoked device still connected after 10 s")
	}
	m := receiveRevocationList(t, control)
	ks, _ := keys.Open(s.dir, nil)
	trust, _ := ks.Trust()
	rl, err := token.ParseRevocationList(trust, string(m.Payload()))
	// press-1's list is signed for press-1: its own revoked license, and
	// nothing of press-2 (blacklisted, but no child of press-1).
	if err != nil || rl.DeviceID != "press-1" || !rl.LicenseRevoked(ls.Licenses[0].ID) || rl.DeviceBlacklisted("press-2") {
		t.Fatalf("control message %.80q: %+v, %v", m.Payload(), rl, err)
	}
	if _, err := s.connect("press-1", tokens["press-1"]); err == nil {
		t.Fatal("the revoked license's token still connects")
	}
}

// TestServeDisconnectsOnSuspendAndBlacklist: suspending a connected
// device's license or blacklisting the device cuts it off too, with the
// new list on its control topic first.
func TestServeDisconnectsOnSuspendAndBlacklist(t *testing.T) {
	s := serveWithBroker(t)
	s.call("POST", "/v1/customers", s.admin, wire.CreateCustomerRequest{ID: "acme", Name: "Acme"}, nil)
	var u wire.CreateUserResponse
	s.call("POST", "/v1/users", s.admin, wire.CreateUserRequest{CustomerID: "acme", Email: "it@acme.test", Role: "admin"}, &u)
	ks, _ := keys.Open(s.dir, nil)
	trust, _ := ks.Trust()
	tests := []struct {
		name, dev string
		act       func(licenseID string)
		check     func(rl *token.RevocationList, licenseID string) bool
	}{
		{"suspend", "press-1", func(id string) { s.call("POST", "/v1/licenses/"+id+"/suspend", s.admin, nil, nil) },
			func(rl *token.RevocationList, id string) bool { return rl.LicenseSuspended(id) }},
		{"blacklist", "press-2", func(string) {
			s.call("POST", "/v1/devices/press-2/blacklist", u.APIKey, wire.BlacklistRequest{Reason: "unpaid"}, nil)
		}, func(rl *token.RevocationList, _ string) bool { return rl.DeviceBlacklisted("press-2") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ls wire.LicenseList
			s.call("POST", "/v1/licenses", s.admin, wire.CreateLicenseRequest{CustomerID: "acme", Type: "standard", Billing: "term",
				Models: []string{"sensor-*"}}, &ls)
			id := ls.Licenses[0].ID
			s.call("POST", "/v1/devices", u.APIKey, wire.CreateDeviceRequest{ID: tc.dev, CustomerID: "acme", Model: "sensor-a", PublicKey: devicePublicKey(t)}, nil)
			var b wire.BindResponse
			s.call("POST", "/v1/licenses/"+id+"/bind", u.APIKey, wire.BindRequest{DeviceID: tc.dev}, &b)
			dev, err := s.connect(tc.dev, b.Token.Token)
			if err != nil {
				t.Fatal(err)
			}
			control := dev.subscribe(t, "tollgate/v1/acme/"+tc.dev+"/control")
			start := clock.Real{}.Now()
			tc.act(id)
			select {
			case <-dev.lost:
				t.Logf("disconnected %v after the request was sent", dev.at().Sub(start))
			case <-time.After(10 * time.Second):
				t.Fatal("still connected after 10 s")
			}
			rl, err := token.ParseRevocationList(trust, string(receiveRevocationList(t, control).Payload()))
			if err != nil || !tc.check(rl, id) {
				t.Fatalf("pushed list %+v, %v", rl, err)
			}
			if _, err := s.connect(tc.dev, b.Token.Token); err == nil {
				t.Fatal("reconnected")
			}
		})
	}
}

// TestServeDropsABlacklistedChildFromItsGateway: a gateway publishes for
// its child until the child is blacklisted; then the gateway is cut off,
// reconnects with the same token, and the child's telemetry no longer gets
// through while the gateway's own does.
func TestServeDropsABlacklistedChildFromItsGateway(t *testing.T) {
	s := serveWithBroker(t)
	s.call("POST", "/v1/customers", s.admin, wire.CreateCustomerRequest{ID: "acme", Name: "Acme"}, nil)
	var u wire.CreateUserResponse
	s.call("POST", "/v1/users", s.admin, wire.CreateUserRequest{CustomerID: "acme", Email: "it@acme.test", Role: "admin"}, &u)
	var ls wire.LicenseList
	s.call("POST", "/v1/licenses", s.admin, wire.CreateLicenseRequest{CustomerID: "acme", Type: "standard", Billing: "term",
		Models: []string{"*"}}, &ls)
	for _, d := range []wire.CreateDeviceRequest{{ID: "gw-1", Model: "gateway-x"}, {ID: "meter-7", Model: "meter", GatewayID: "gw-1"}} {
		d.CustomerID, d.PublicKey = "acme", devicePublicKey(t)
		s.call("POST", "/v1/devices", u.APIKey, d, nil)
	}
	var b wire.BindResponse
	s.call("POST", "/v1/licenses/"+ls.Licenses[0].ID+"/bind", u.APIKey, wire.BindRequest{DeviceID: "gw-1"}, &b)
	svc, err := s.connect("svc:dashboard", u.APIKey)
	if err != nil {
		t.Fatal(err)
	}
	telemetry := svc.subscribe(t, "tollgate/v1/acme/+/telemetry")
	gw, err := s.connect("gw-1", b.Token.Token)
	if err != nil {
		t.Fatal(err)
	}
	pub := func(c *mqttClient, dev, payload string) {
		c.c.Publish("tollgate/v1/acme/"+dev+"/telemetry", 1, false, payload).WaitTimeout(5 * time.Second)
	}
	pub(gw, "meter-7", "child-before")
	if m := receive(t, telemetry, "child telemetry"); string(m.Payload()) != "child-before" {
		t.Fatalf("got %s", m.Payload())
	}
	s.call("POST", "/v1/devices/meter-7/blacklist", u.APIKey, wire.BlacklistRequest{Reason: "tampered"}, nil)
	select {
	case <-gw.lost:
	case <-time.After(10 * time.Second):
		t.Fatal("the gateway of a blacklisted child was not cut off")
	}
	gw, err = s.connect("gw-1", b.Token.Token)
	if err != nil {
		t.Fatalf("gateway reconnect: %v", err)
	}
	pub(gw, "meter-7", "child-after")
	select {
	case <-gw.lost: // nats-server may close a connection that publishes outside its grant
		if gw, err = s.connect("gw-1", b.Token.Token); err != nil {
			t.Fatal(err)
		}
	case <-time.After(200 * time.Millisecond):
	}
	pub(gw, "gw-1", "sentinel")
	if m := receive(t, telemetry, "gateway telemetry"); string(m.Payload()) != "sentinel" {
		t.Fatalf("after the blacklisting the service got %s %s before the sentinel", m.Topic(), m.Payload())
	}
}

// TestServeMQTTOverTLS serves MQTT with a certificate (--mqtt-tls-cert and
// --mqtt-tls-key): a device that trusts the CA connects over TLS and
// publishes; a plain-TCP CONNECT gets nowhere.
func TestServeMQTTOverTLS(t *testing.T) {
	pki := t.TempDir()
	if _, err := certs.Generate(pki, certs.Options{}); err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(filepath.Join(pki, certs.CACert))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	s := serveWithBroker(t, func(c *Config) {
		c.MQTTTLSCert, c.MQTTTLSKey = filepath.Join(pki, certs.ServerCert), filepath.Join(pki, certs.ServerKey)
	})
	s.call("POST", "/v1/customers", s.admin, wire.CreateCustomerRequest{ID: "acme", Name: "Acme"}, nil)
	var u wire.CreateUserResponse
	s.call("POST", "/v1/users", s.admin, wire.CreateUserRequest{CustomerID: "acme", Email: "it@acme.test", Role: "admin"}, &u)
	var ls wire.LicenseList
	s.call("POST", "/v1/licenses", s.admin, wire.CreateLicenseRequest{CustomerID: "acme", Type: "standard", Billing: "term",
		Models: []string{"*"}}, &ls)
	s.call("POST", "/v1/devices", u.APIKey, wire.CreateDeviceRequest{ID: "press-1", CustomerID: "acme", Model: "m", PublicKey: devicePublicKey(t)}, nil)
	var b wire.BindResponse
	s.call("POST", "/v1/licenses/"+ls.Licenses[0].ID+"/bind", u.APIKey, wire.BindRequest{DeviceID: "press-1"}, &b)

	if _, err := s.connect("press-1", b.Token.Token); err == nil {
		t.Fatal("a plain-TCP CONNECT to the TLS listener succeeded")
	}
	s.mqttScheme, s.tlsConf = "ssl://", &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	dev, err := s.connect("press-1", b.Token.Token)
	if err != nil {
		t.Fatalf("TLS connect: %v", err)
	}
	if tok := dev.c.Publish("tollgate/v1/acme/press-1/telemetry", 1, false, "over tls"); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish over TLS: %v", tok.Error())
	}
}
