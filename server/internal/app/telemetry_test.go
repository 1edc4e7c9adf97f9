package app

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/shared/clock"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
	"github.com/tollgate-iot/tollgate/shared/token"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// device is a registered device with its key pair and a bound license.
type device struct {
	id, token string
	key       ed25519.PrivateKey
}

// provision registers a device of acme with a fresh key pair and binds a
// new term license to it.
func (s *served) provision(acme, id string) device {
	s.t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		s.t.Fatal(err)
	}
	var ls wire.LicenseList
	s.call("POST", "/v1/licenses", s.admin, wire.CreateLicenseRequest{CustomerID: "acme", Type: "standard", Billing: "term",
		Models: []string{"*"}}, &ls)
	s.call("POST", "/v1/devices", acme, wire.CreateDeviceRequest{ID: id, CustomerID: "acme", Model: "m", PublicKey: token.EncodePublicKey(pub)}, nil)
	var b wire.BindResponse
	s.call("POST", "/v1/licenses/"+ls.Licenses[0].ID+"/bind", acme, wire.BindRequest{DeviceID: id}, &b)
	return device{id: id, token: b.Token.Token, key: priv}
}

// publishTelemetry publishes n telemetry envelopes stamped ts as the
// device, each acknowledged by the broker.
func (s *served) publishTelemetry(d device, ts time.Time, n int) {
	s.t.Helper()
	c, err := s.connect(d.id, d.token)
	if err != nil {
		s.t.Fatalf("connect %s: %v", d.id, err)
	}
	defer c.c.Disconnect(100)
	for i := range n {
		env := wire.AppendTelemetry(nil, &wire.Telemetry{V: 1, DeviceID: d.id, CustomerID: "acme", LicenseID: "l", Seq: int64(i + 1),
			TS: ts.UTC().Format(time.RFC3339Nano), Data: []byte(`{"n":1}`)})
		if tok := c.c.Publish("tollgate/v1/acme/"+d.id+"/telemetry", 1, false, env); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			s.t.Fatalf("publish: %v", tok.Error())
		}
	}
}

// sync reports hourly counts as the device's signed sync request.
func (s *served) sync(d device, counts ...syncproto.HourlyCount) {
	s.t.Helper()
	signer, err := token.NewSigner(d.key)
	if err != nil {
		s.t.Fatal(err)
	}
	nonce := make([]byte, 16)
	rand.Read(nonce)
	text, err := syncproto.SignRequest(signer, &syncproto.Report{DeviceID: d.id, Nonce: base64.RawURLEncoding.EncodeToString(nonce),
		SentAt: clock.Real{}.Now().Unix(), Tokens: []syncproto.TokenVersion{}, Deductions: []syncproto.Deduction{}, Counts: counts})
	if err != nil {
		s.t.Fatal(err)
	}
	resp, err := http.Post(s.http+"/v1/device/sync", "text/plain", strings.NewReader(text))
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	if b, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 {
		s.t.Fatalf("sync %s: %d %s", d.id, resp.StatusCode, b)
	}
}

// waitMetric waits until /metrics shows line (the broker's own counters).
func (s *served) waitMetric(line string) {
	s.t.Helper()
	wall := clock.Real{}
	deadline := wall.Now().Add(10 * time.Second)
	var body []byte
	for wall.Now().Before(deadline) {
		resp, err := http.Get(s.http + "/metrics")
		if err == nil {
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(body), line+"\n") {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("/metrics never showed %q:\n%s", line, body)
}

// TestObservedAndReportedCountsDiffer: a tampered agent publishes 10
// samples of an hour but reports 6 accepted; an honest one publishes and
// reports 5. The broker counts what it sees in memory and the counts reach
// the ledger only through the flush at shutdown (the flush interval is an
// hour), so after a restart the server shows, for the tampered device, 10
// observed against 6 reported — a difference of 4 in a settled hour — and
// lists it, alone, among the devices with discrepancies.
func TestObservedAndReportedCountsDiffer(t *testing.T) {
	hourly := func(c *Config) { c.ObservedFlushInterval = time.Hour }
	s := serveWithBroker(t, hourly)
	s.call("POST", "/v1/customers", s.admin, wire.CreateCustomerRequest{ID: "acme", Name: "Acme"}, nil)
	var u wire.CreateUserResponse
	s.call("POST", "/v1/users", s.admin, wire.CreateUserRequest{CustomerID: "acme", Email: "it@acme.test", Role: "admin"}, &u)
	acme := u.APIKey
	tampered, honest := s.provision(acme, "press-1"), s.provision(acme, "press-2")
	ts := clock.Real{}.Now().Add(-2 * time.Hour).UTC()
	hour := ts.Truncate(time.Hour)
	s.publishTelemetry(tampered, ts, 10)
	s.publishTelemetry(honest, ts, 5)
	s.sync(tampered, syncproto.HourlyCount{DeviceID: "press-1", Hour: hour.Unix(), Accepted: 6})
	s.sync(honest, syncproto.HourlyCount{DeviceID: "press-2", Hour: hour.Unix(), Accepted: 5})
	s.waitMetric("tollgate_broker_observed_messages 15")

	var before wire.DeviceTelemetry
	s.call("GET", "/v1/devices/press-1/telemetry", acme, nil, &before)
	if len(before.Hours) != 1 || before.Hours[0].Observed != 0 || before.Hours[0].ReportedAccepted != 6 {
		t.Fatalf("before the flush the ledger shows %+v; want only the report (the flush is due in an hour)", before.Hours)
	}
	s.stop()
	s.serve(hourly)

	var v wire.DeviceTelemetry
	s.call("GET", "/v1/devices/press-1/telemetry?within=1d", acme, nil, &v)
	want := wire.TelemetryHour{Hour: hour, Observed: 10, ReportedAccepted: 6, Difference: 4, Settled: true}
	if len(v.Hours) != 1 || v.Hours[0] != want || v.Excess != 4 {
		t.Fatalf("tampered device: %+v, excess %d; want %+v", v.Hours, v.Excess, want)
	}
	s.call("GET", "/v1/devices/press-2/telemetry?within=1d", acme, nil, &v)
	if len(v.Hours) != 1 || v.Hours[0].Observed != 5 || v.Hours[0].Difference != 0 || v.Excess != 0 {
		t.Fatalf("honest device: %+v", v.Hours)
	}
	var l wire.TelemetryDiscrepancyList
	s.call("GET", "/v1/telemetry/discrepancies?customer=acme", acme, nil, &l)
	if len(l.Devices) != 1 || l.Devices[0].DeviceID != "press-1" || l.Devices[0].Excess != 4 || l.Devices[0].Observed != 10 {
		t.Fatalf("discrepancies: %+v", l.Devices)
	}
}
