package api

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/shared/syncproto"
	"github.com/tollgate-iot/tollgate/shared/token"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// syncEnv is an API over a real ledger with customers acme and beta, each
// with one device holding a day license (its key kept, to sign reports).
type syncEnv struct {
	*apiEnv
	dev map[string]*token.Signer // device id → its key
	lic map[string]string        // device id → its day license
}

func deviceSigner(t testing.TB, id string) *token.Signer {
	t.Helper()
	seed := sha256.Sum256([]byte("sync test device key: " + id))
	s, err := token.NewSigner(ed25519.NewKeyFromSeed(seed[:]))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// newSyncEnv builds root → {acme, beta}; dev-a (acme) and dev-b
// (beta) each hold a day license of days days; acme also has child-a under
// dev-a and an unbound day license "spare".
func newSyncEnv(t testing.TB, days int64) *syncEnv {
	t.Helper()
	e := &syncEnv{apiEnv: newAPIEnv(t), dev: map[string]*token.Signer{}, lic: map[string]string{}}
	root := e.key["root"]
	for _, c := range []struct{ cust, dev string }{{"acme", "dev-a"}, {"beta", "dev-b"}} {
		e.must(201, "POST", "/v1/customers", root, wire.CreateCustomerRequest{ID: c.cust, Name: c.cust, ParentID: "root"}, nil)
		var u wire.CreateUserResponse
		e.must(201, "POST", "/v1/users", root, wire.CreateUserRequest{CustomerID: c.cust, Email: "admin@" + c.cust + ".test", Role: "admin"}, &u)
		e.key[c.cust] = u.APIKey
		e.addDevice(c.cust, c.dev, "")
		var ls wire.LicenseList
		e.must(201, "POST", "/v1/licenses", root, wire.CreateLicenseRequest{CustomerID: c.cust, Type: "standard", Billing: "days",
			Days: days, Models: []string{"*"}, Count: 2}, &ls)
		e.must(200, "POST", "/v1/licenses/"+ls.Licenses[0].ID+"/bind", e.key[c.cust], wire.BindRequest{DeviceID: c.dev}, nil)
		e.lic[c.dev] = ls.Licenses[0].ID
		e.lic["spare-"+c.cust] = ls.Licenses[1].ID
	}
	e.addDevice("acme", "child-a", "dev-a")
	return e
}

func (e *syncEnv) addDevice(cust, id, gateway string) {
	e.t.Helper()
	s := deviceSigner(e.t, id)
	e.dev[id] = s
	e.must(201, "POST", "/v1/devices", e.key[cust], wire.CreateDeviceRequest{ID: id, CustomerID: cust, Model: "sensor-a",
		PublicKey: token.EncodePublicKey(s.PublicKey()), GatewayID: gateway}, nil)
}

func nonce(t testing.TB) string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// report returns an empty report of device dev sent now, with a fresh nonce.
func (e *syncEnv) report(dev string) *syncproto.Report {
	return &syncproto.Report{DeviceID: dev, Nonce: nonce(e.t), SentAt: e.clk.Now().Unix(),
		Tokens: []syncproto.TokenVersion{}, Deductions: []syncproto.Deduction{}, Counts: []syncproto.HourlyCount{}}
}

// deduction is the record an agent writes for day n (1-based) of license
// lic holding days days before its first deduction, starting at t0.
func deduction(seq int64, lic string, at time.Time, daysBefore int64) syncproto.Deduction {
	return syncproto.Deduction{Seq: seq, LicenseID: lic, At: at.Unix(), PaidUntil: at.Add(24 * time.Hour).Unix(),
		DaysBefore: daysBefore, DaysAfter: daysBefore - 1}
}

// sign signs r with signer without the contract's checks, so that tests
// can send what a broken or hostile agent would.
func sign(t testing.TB, signer *token.Signer, r *syncproto.Report) string {
	t.Helper()
	p, err := token.EncodePayload(r)
	if err != nil {
		t.Fatal(err)
	}
	text, err := signer.SignPayload(token.KindSyncRequest, p)
	if err != nil {
		t.Fatal(err)
	}
	return text
}

// post sends a sync body and returns the status and the answer text.
func (e *syncEnv) post(body, ctype string) (int, string) {
	e.t.Helper()
	req, err := http.NewRequest("POST", e.srv.URL+"/v1/device/sync", strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", ctype)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

// sync sends r signed by its device and returns the verified answer.
func (e *syncEnv) sync(r *syncproto.Report) *syncproto.Response {
	e.t.Helper()
	code, body := e.post(sign(e.t, e.dev[r.DeviceID], r), "text/plain")
	if code != http.StatusOK {
		e.t.Fatalf("sync: %d %s", code, body)
	}
	return e.open(r.DeviceID, r.Nonce, body)
}

func (e *syncEnv) open(dev, nonce, body string) *syncproto.Response {
	e.t.Helper()
	trust, err := e.ks.Trust()
	if err != nil {
		e.t.Fatal(err)
	}
	resp, err := syncproto.OpenResponse(trust, dev, nonce, body)
	if err != nil {
		e.t.Fatalf("answer does not open: %v", err)
	}
	return resp
}

// status is the admin view of a device's syncs.
func (e *syncEnv) status(dev string) wire.DeviceSync {
	e.t.Helper()
	var s wire.DeviceSync
	e.must(200, "GET", "/v1/devices/"+dev+"/sync", e.key["root"], nil, &s)
	return s
}

func (e *syncEnv) availableDays(lic string) int64 {
	e.t.Helper()
	var l wire.License
	e.must(200, "GET", "/v1/licenses/"+lic, e.key["root"], nil, &l)
	return l.AvailableDays
}

// snapshot is everything a sync can change, to assert that a refused
// request changed nothing.
func (e *syncEnv) snapshot() string {
	e.t.Helper()
	var b strings.Builder
	for _, dev := range []string{"dev-a", "dev-b", "child-a"} {
		j, _ := json.Marshal(e.status(dev))
		b.Write(j)
	}
	for _, lic := range []string{e.lic["dev-a"], e.lic["dev-b"], e.lic["spare-acme"]} {
		var l wire.License
		e.must(200, "GET", "/v1/licenses/"+lic, e.key["root"], nil, &l)
		j, _ := json.Marshal(l)
		b.Write(j)
	}
	var d wire.Device
	e.must(200, "GET", "/v1/devices/dev-a", e.key["root"], nil, &d)
	j, _ := json.Marshal(d)
	b.Write(j)
	b.WriteString(" audit entries: ")
	b.WriteString(strings.Repeat("|", e.auditCount()))
	return b.String()
}

func sprint(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
