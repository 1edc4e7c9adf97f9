package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/shared/airgap"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
	"github.com/tollgate-iot/tollgate/shared/token"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// fuzzPost sends body through the real router as the acme admin and
// checks that a refusal is a named 4xx, never a 5xx or a panic.
func fuzzPost(t *testing.T, h http.Handler, key, path, ctype, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("POST", path, strings.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Authorization", "Bearer "+key)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK && (rec.Code < 400 || rec.Code >= 500 || errCode(rec.Body.Bytes()) == "") {
		t.Fatalf("%s: %d %s", path, rec.Code, rec.Body.String())
	}
	return rec
}

// FuzzOfflineActivationBody: any JSON body of POST /v1/activations/offline
// is refused by name or answers a key the device that signed the request
// can open, for that device and key.
func FuzzOfflineActivationBody(f *testing.F) {
	e := newSyncEnv(f, 10)
	good := activationRequest(f, "site-1", "site-1")
	body := func(req []byte, lic string) string {
		b, _ := json.Marshal(wire.OfflineActivationRequest{Request: string(req), LicenseID: lic})
		return string(b)
	}
	f.Add(body(good, e.lic["spare-acme"]))
	f.Add(body(good, e.lic["spare-beta"]))
	f.Add(body(good[:len(good)/2], e.lic["spare-acme"]))
	f.Add(body(activationRequest(f, "dev-a", "impostor"), e.lic["spare-acme"]))
	f.Add(`{"request":"","license_id":"x"}`)
	f.Add(`{"request":1}`)
	f.Add(`{}`)
	h := e.srv.Config.Handler
	trust, err := e.ks.Trust()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b string) {
		rec := fuzzPost(t, h, e.key["acme"], "/v1/activations/offline", "application/json", b)
		if rec.Code != http.StatusOK {
			return
		}
		var in wire.OfflineActivationRequest
		if err := json.Unmarshal([]byte(b), &in); err != nil {
			t.Fatalf("200 for a body that is not a request: %v", err)
		}
		req, err := airgap.ParseActivationRequest([]byte(in.Request))
		if err != nil {
			t.Fatalf("200 for a request that does not parse: %v", err)
		}
		var k wire.ActivationKey
		json.Unmarshal(rec.Body.Bytes(), &k)
		ak, err := airgap.OpenActivationKey(trust, []byte(k.File))
		if err != nil {
			t.Fatalf("answer does not open: %v", err)
		}
		pub, _ := token.ParsePublicKey(req.PublicKey)
		if ak.DeviceID != req.DeviceID || ak.DeviceKey != token.Fingerprint(pub) {
			t.Fatalf("key for %s/%s, request of %s", ak.DeviceID, ak.DeviceKey, req.DeviceID)
		}
	})
}

// FuzzUsageImportBody: any text body of POST /v1/usage/import is refused
// by name or is a receipt signed by the registered key of an acme device.
func FuzzUsageImportBody(f *testing.F) {
	e := newSyncEnv(f, 100)
	r := e.report("dev-a")
	r.Deductions = []syncproto.Deduction{deduction(1, e.lic["dev-a"], e.clk.Now().Add(-time.Hour), 100)}
	good := e.receipt(r)
	f.Add(string(good))
	f.Add(string(good[:len(good)-1]))
	f.Add(string(e.receipt(e.report("dev-b"))))
	f.Add(string(activationRequest(f, "site-1", "site-1")))
	f.Add("-----BEGIN TOLLGATE USAGE RECEIPT-----\nabc\n-----END TOLLGATE USAGE RECEIPT-----\n")
	f.Add("")
	h := e.srv.Config.Handler
	f.Fuzz(func(t *testing.T, b string) {
		rec := fuzzPost(t, h, e.key["acme"], "/v1/usage/import", "text/plain", b)
		if rec.Code != http.StatusOK {
			return
		}
		kind, text, err := airgap.Dearmor([]byte(b))
		if err != nil || kind != token.KindUsageReceipt {
			t.Fatalf("200 for a file that is not a receipt: %v %v", kind, err)
		}
		id, _ := syncproto.PeekDevice(token.KindUsageReceipt, text)
		if e.dev[id] == nil || id == "dev-b" {
			t.Fatalf("200 for a receipt of device %q", id)
		}
		dt, _ := token.NewTrust(e.dev[id].PublicKey())
		if _, err := syncproto.OpenReport(dt, token.KindUsageReceipt, text); err != nil {
			t.Fatalf("200 for a receipt that does not open: %v", err)
		}
	})
}
