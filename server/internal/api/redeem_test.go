package api

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/ledgertest"
	"github.com/tollgate-iot/tollgate/shared/airgap"
	"github.com/tollgate-iot/tollgate/shared/redeem"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
	"github.com/tollgate-iot/tollgate/shared/token"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// redeemEnv is an apiEnv that keeps its API, to reset the guard.
type redeemEnv struct {
	*apiEnv
	api *API
}

func newRedeemEnv(t testing.TB) *redeemEnv {
	t.Helper()
	le := ledgertest.Open(t)
	a := New(Options{Ledger: le.Ledger, Clock: le.Clock, Logger: le.Logger})
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	return &redeemEnv{apiEnv: &apiEnv{t: t, srv: srv, lg: le.Ledger, clk: le.Clock, ks: le.Keys, key: map[string]string{"root": le.RootKey}}, api: a}
}

// reset forgets every source's rate and failures (not the nonces).
func (g *redeemGuard) reset(t testing.TB) {
	t.Helper()
	g.mu.Lock()
	g.sources = map[string]*sourceState{}
	g.mu.Unlock()
	if err := g.lg.ClearRedeemFailures(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// redeemKey is the key of a device that redeems online, by name.
func redeemKey(name string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("online activation test device key: " + name))
	return ed25519.NewKeyFromSeed(seed[:])
}

var nonceSeq atomic.Int64

func testNonce() string {
	var b [16]byte
	copy(b[:], fmt.Sprintf("%016d", nonceSeq.Add(1)))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// redeemRequest is device id's (model) request for code, signed with the
// key named keyName, made at the server's current time.
func (e *apiEnv) redeemRequest(id, model, keyName, code string) (*redeem.Request, string) {
	e.t.Helper()
	k := redeemKey(keyName)
	r := &redeem.Request{DeviceID: id, Model: model, PublicKey: token.EncodePublicKey(k.Public().(ed25519.PublicKey)),
		CreatedAt: e.clk.Now().Unix(), Nonce: testNonce(), Code: code}
	text, err := redeem.Sign(k, r)
	if err != nil {
		e.t.Fatal(err)
	}
	return r, text
}

func (e *apiEnv) postRedeem(text string) (int, []byte) {
	e.t.Helper()
	return e.raw("POST", redeem.Path, "", text+"\n", "text/plain")
}

// redeemOK posts a request and opens the answer as the device would.
func (e *apiEnv) redeemOK(id, model, keyName, code string) *syncproto.Response {
	e.t.Helper()
	r, text := e.redeemRequest(id, model, keyName, code)
	status, raw := e.postRedeem(text)
	if status != http.StatusOK {
		e.t.Fatalf("redeem %s by %s: %d %s", code, id, status, raw)
	}
	trust, err := e.ks.Trust()
	if err != nil {
		e.t.Fatal(err)
	}
	resp, err := syncproto.OpenResponse(trust, id, r.Nonce, strings.TrimSpace(string(raw)))
	if err != nil {
		e.t.Fatalf("answer does not open for the device: %v", err)
	}
	return resp
}

// spare creates an unused standard license of acme and returns it.
func (e *apiEnv) spare() wire.License {
	e.t.Helper()
	var ls wire.LicenseList
	e.must(201, "POST", "/v1/licenses", e.key["dist"], wire.CreateLicenseRequest{CustomerID: "acme", Type: "standard", Billing: "term",
		Models: []string{"sensor-*"}, MaxSamplesPerHour: 1000, Count: 1}, &ls)
	return ls.Licenses[0]
}

func tokenLicenses(t *testing.T, e *redeemEnv, r *syncproto.Response) []string {
	t.Helper()
	trust, _ := e.ks.Trust()
	var ids []string
	for _, text := range r.Tokens {
		l, err := token.ParseLicense(trust, text)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, l.LicenseID)
	}
	return ids
}

func TestRedeemOnlineSerialBindsAndAnswersSignedSyncResponse(t *testing.T) {
	e := newRedeemEnv(t)
	e.world()
	l := e.spare()
	changes := e.auditCount()
	resp := e.redeemOK("dev-9", "sensor-b", "dev-9", strings.ToLower(l.Serial))
	if ids := tokenLicenses(t, e, resp); len(ids) != 1 || ids[0] != l.ID {
		t.Fatalf("answer carries %v, want [%s]", ids, l.ID)
	}
	if resp.RevocationList == "" || resp.ServerTime != e.clk.Now().Unix() {
		t.Fatalf("answer %+v", resp)
	}
	if e.auditCount() <= changes {
		t.Fatal("the redemption is not in the audit log")
	}
	var got wire.License
	e.must(200, "GET", "/v1/licenses/"+l.ID, e.key["acme"], nil, &got)
	if got.DeviceID != "dev-9" || got.Status != "active" {
		t.Fatalf("license after redemption: %+v", got)
	}
	var d wire.Device
	e.must(200, "GET", "/v1/devices/dev-9", e.key["acme"], nil, &d)
	if d.CustomerID != "acme" || d.Model != "sensor-b" {
		t.Fatalf("device %+v", d)
	}
	// A retry (new nonce) gets the same answer.
	again := e.redeemOK("dev-9", "sensor-b", "dev-9", l.Serial)
	if strings.Join(again.Tokens, ",") != strings.Join(resp.Tokens, ",") {
		t.Fatal("a retry got other tokens")
	}
}

func TestRedeemOnlineReplayIsRefused(t *testing.T) {
	e := newRedeemEnv(t)
	e.world()
	l := e.spare()
	_, text := e.redeemRequest("dev-9", "sensor-b", "dev-9", l.Serial)
	if status, raw := e.postRedeem(text); status != http.StatusOK {
		t.Fatalf("first: %d %s", status, raw)
	}
	status, raw := e.postRedeem(text)
	if status != http.StatusConflict || errCode(raw) != "replay" {
		t.Fatalf("replay: %d %s", status, raw)
	}
}

func TestRedeemOnlineStaleRequestIsRefused(t *testing.T) {
	e := newRedeemEnv(t)
	e.world()
	l := e.spare()
	_, text := e.redeemRequest("dev-9", "sensor-b", "dev-9", l.Serial)
	e.clk.Advance(RedeemWindow + time.Second)
	req, _ := http.NewRequest("POST", e.srv.URL+redeem.Path, strings.NewReader(text))
	req.Header.Set("Content-Type", "text/plain")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusConflict || errCode(raw) != "stale_request" || !strings.Contains(string(raw), "stale activation request") {
		t.Fatalf("stale: %d %s", resp.StatusCode, raw)
	}
	// The Date header is the server's clock, so the device can date its next request.
	if date, err := http.ParseTime(resp.Header.Get("Date")); err != nil || !date.Equal(e.clk.Now().Truncate(time.Second)) {
		t.Fatalf("Date %q, want the server clock %s", resp.Header.Get("Date"), e.clk.Now())
	}
}

func TestRedeemOnlineRefusesAnotherDevicesSignature(t *testing.T) {
	e := newRedeemEnv(t)
	e.world()
	l := e.spare()
	// The request carries dev-9's key but is signed by an impostor's.
	r, _ := e.redeemRequest("dev-9", "sensor-b", "dev-9", l.Serial)
	p, _ := token.EncodePayload(r)
	s, _ := token.NewSigner(redeemKey("impostor"))
	forged, _ := s.SignPayload(token.KindActivationRequest, p)
	status, raw := e.postRedeem(forged)
	if status != http.StatusBadRequest || errCode(raw) != "not_self_signed" {
		t.Fatalf("forged: %d %s", status, raw)
	}
	// A self-signed request naming a registered device with another key.
	_, text := e.redeemRequest("dev-1", "sensor-a", "impostor", l.Serial)
	status, raw = e.postRedeem(text)
	if status != http.StatusConflict || errCode(raw) != "device_key_mismatch" {
		t.Fatalf("registered id, other key: %d %s", status, raw)
	}
	var got wire.License
	e.must(200, "GET", "/v1/licenses/"+l.ID, e.key["acme"], nil, &got)
	if got.Status != "unused" {
		t.Fatalf("a refused redemption changed the license: %s", got.Status)
	}
}

func TestRedeemOnlineBadInputIsRefusedByName(t *testing.T) {
	e := newRedeemEnv(t)
	bound := e.world()
	l := e.spare()
	_, good := e.redeemRequest("dev-9", "sensor-b", "dev-9", l.Serial)
	_, camera := e.redeemRequest("cam-1", "camera-x", "cam-1", l.Serial)
	_, unknown := e.redeemRequest("dev-9", "sensor-b", "dev-9", "TG-0000-0000")
	_, taken := e.redeemRequest("dev-9", "sensor-b", "dev-9", bound.Serial)
	offline := activationRequest(t, "dev-9", "dev-9")
	_, offText, _ := airgap.Dearmor(offline)
	for _, tc := range []struct {
		name, body, ctype string
		status            int
		code              string
	}{
		{"error/json", `{"code":"x"}`, "application/json", 415, "unsupported_media_type"},
		{"error/too_large", good + strings.Repeat("A", MaxRedeemBodyBytes), "text/plain", 413, "body_too_large"},
		{"error/garbage", "hello", "text/plain", 400, "malformed_document"},
		{"error/empty", "", "text/plain", 400, "malformed_document"},
		{"error/offline_request", offText, "text/plain", 400, "malformed_document"},
		{"error/armored", string(offline), "text/plain", 400, "malformed_document"},
		{"error/unknown_serial", unknown, "text/plain", 404, "unknown_code"},
		{"error/model_mismatch", camera, "text/plain", 409, "model_mismatch"},
		{"error/bound_elsewhere", taken, "text/plain", 409, "license_bound"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.api.redeem.reset(t) // each case from a fresh address budget
			status, raw := e.raw("POST", redeem.Path, "", tc.body, tc.ctype)
			if status != tc.status || errCode(raw) != tc.code {
				t.Fatalf("%d %s, want %d %s", status, raw, tc.status, tc.code)
			}
		})
	}
	if status, raw := e.raw("GET", redeem.Path, "", "", ""); status != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %d %s", status, raw)
	}
}

func TestRedeemOnlineLocksOutAnAddressAfterFailures(t *testing.T) {
	e := newRedeemEnv(t)
	e.world()
	l := e.spare()
	for i := range MaxRedeemFailures {
		_, text := e.redeemRequest("dev-9", "sensor-b", "dev-9", fmt.Sprintf("TG-0000-%04d", i))
		if status, raw := e.postRedeem(text); status != http.StatusNotFound {
			t.Fatalf("guess %d: %d %s", i, status, raw)
		}
		e.clk.Advance(RedeemRatePeriod / RedeemRate) // stay under the rate
	}
	// Locked out, even with the right serial.
	_, text := e.redeemRequest("dev-9", "sensor-b", "dev-9", l.Serial)
	req, _ := http.NewRequest("POST", e.srv.URL+redeem.Path, strings.NewReader(text))
	req.Header.Set("Content-Type", "text/plain")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("after %d failures: %d, Retry-After %q", MaxRedeemFailures, resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	e.clk.Advance(RedeemFailureWindow)
	e.redeemOK("dev-9", "sensor-b", "dev-9", l.Serial)
}

func TestRedeemOnlineRateLimitsAnAddress(t *testing.T) {
	e := newRedeemEnv(t)
	e.world()
	l := e.spare()
	e.redeemOK("dev-9", "sensor-b", "dev-9", l.Serial)
	for range RedeemRate - 1 {
		e.redeemOK("dev-9", "sensor-b", "dev-9", l.Serial) // retries succeed and count
	}
	_, text := e.redeemRequest("dev-9", "sensor-b", "dev-9", l.Serial)
	if status, raw := e.postRedeem(text); status != http.StatusTooManyRequests || errCode(raw) != "rate_limited" {
		t.Fatalf("over the rate: %d %s", status, raw)
	}
	e.clk.Advance(RedeemRatePeriod)
	e.redeemOK("dev-9", "sensor-b", "dev-9", l.Serial)
}

func TestRedeemGuardPausesSerialsAfterFailuresFromAllAddresses(t *testing.T) {
	e := newRedeemEnv(t)
	g, ctx := e.api.redeem, context.Background()
	now := e.clk.Now()
	for i := range MaxSerialFailures {
		src := fmt.Sprintf("198.51.%d.%d", i/256, i%256)
		if _, err := g.admit(ctx, src, now); err != nil {
			t.Fatalf("source %d: %v", i, err)
		}
		g.failed(ctx, e.api.log, src, true)
	}
	f, err := g.admit(ctx, "203.0.113.1", now)
	if err != nil {
		t.Fatal(err)
	}
	if err := serialPaused(f); !errors.Is(err, ErrTooManyFailures) {
		t.Fatalf("serial redemption not paused: %v", err)
	}
	g.failed(ctx, e.api.log, "203.0.113.1", false) // enrollment failures do not count
	e.clk.Advance(RedeemFailureWindow)
	if f, err = g.admit(ctx, "203.0.113.1", e.clk.Now()); err != nil {
		t.Fatal(err)
	}
	if err := serialPaused(f); err != nil {
		t.Fatalf("still paused after the window: %v", err)
	}
}

func TestSourceOfGroupsIPv6By64(t *testing.T) {
	for addr, want := range map[string]string{
		"192.0.2.7:5000":             "192.0.2.7",
		"[2001:db8:1:2:3:4:5:6]:443": "2001:db8:1:2::/64",
		"[::ffff:192.0.2.7]:1":       "192.0.2.7",
	} {
		r := httptest.NewRequest("POST", "/", nil)
		r.RemoteAddr = addr
		if got := sourceOf(r); got != want {
			t.Errorf("sourceOf(%s) = %s, want %s", addr, got, want)
		}
	}
}

// FuzzRedeemOnlineBody: any body of POST /v1/activations/online is refused
// by name or answers a response that opens for the device that signed it.
func FuzzRedeemOnlineBody(f *testing.F) {
	e := newRedeemEnv(f)
	e.world()
	l := e.spare()
	_, good := e.redeemRequest("dev-9", "sensor-b", "dev-9", l.Serial)
	_, enr := e.redeemRequest("dev-8", "sensor-b", "dev-8", redeem.EnrollmentPrefix+strings.Repeat("A", 43))
	f.Add(good)
	f.Add(enr)
	f.Add(good[:len(good)/2])
	f.Add("tg1.req.e30.AAAA.k")
	h := e.srv.Config.Handler
	trust, err := e.ks.Trust()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b string) {
		e.api.redeem.reset(t) // the fuzzer is one address far over any limit
		rec := fuzzPost(t, h, "", redeem.Path, "text/plain", b)
		if rec.Code != http.StatusOK {
			return
		}
		req, err := redeem.Parse(strings.TrimSuffix(strings.TrimSuffix(b, "\n"), "\r"))
		if err != nil {
			t.Fatalf("200 for a body that does not parse: %v", err)
		}
		if _, err := syncproto.OpenResponse(trust, req.DeviceID, req.Nonce, rec.Body.String()); err != nil {
			t.Fatalf("200 with an answer the device cannot open: %v", err)
		}
	})
}
