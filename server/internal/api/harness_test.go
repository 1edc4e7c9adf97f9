package api

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tollgate-iot/tollgate/server/internal/keys"
	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/server/internal/ledgertest"
	"github.com/tollgate-iot/tollgate/shared/clock"
	"github.com/tollgate-iot/tollgate/shared/token"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

type apiEnv struct {
	t   testing.TB
	srv *httptest.Server
	api *API
	lg  *ledger.Ledger
	clk *clock.Fake
	ks  *keys.Store
	// API keys by name: root, dist, acme, acme-viewer, acme-operator, beta.
	key map[string]string
}

func newAPIEnv(t testing.TB) *apiEnv {
	t.Helper()
	le := ledgertest.Open(t)
	a := New(Options{Ledger: le.Ledger, Clock: le.Clock, Logger: le.Logger})
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	return &apiEnv{t: t, srv: srv, api: a, lg: le.Ledger, clk: le.Clock, ks: le.Keys, key: map[string]string{"root": le.RootKey}}
}

// call sends a JSON request (body: nil, a string sent as is, or a value
// encoded as JSON) and decodes a JSON answer into out if given.
func (e *apiEnv) call(method, path, key string, body any, out any) (int, []byte) {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			e.t.Fatalf("%s %s: answer %s does not decode: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode, raw
}

// must calls and fails the test unless the status is want.
func (e *apiEnv) must(want int, method, path, key string, body, out any) {
	e.t.Helper()
	if code, raw := e.call(method, path, key, body, out); code != want {
		e.t.Fatalf("%s %s: %d %s, want %d", method, path, code, raw, want)
	}
}

func errCode(raw []byte) string {
	var b wire.ErrorBody
	json.Unmarshal(raw, &b)
	return b.Error.Code
}

func newPublicKey(t testing.TB) string {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return token.EncodePublicKey(pub)
}

// world builds root → dist → {acme, beta}, a user per customer (plus a
// viewer and an operator of acme), a device of acme and a license of acme
// bound to it, and returns the license.
func (e *apiEnv) world() wire.License {
	e.t.Helper()
	root := e.key["root"]
	for _, c := range []struct{ id, parent, key string }{{"dist", "root", root}, {"acme", "dist", ""}, {"beta", "dist", ""}} {
		k := c.key
		if k == "" {
			k = e.key["dist"]
		}
		e.must(201, "POST", "/v1/customers", k, wire.CreateCustomerRequest{ID: c.id, Name: c.id, ParentID: c.parent}, nil)
		var u wire.CreateUserResponse
		e.must(201, "POST", "/v1/users", k, wire.CreateUserRequest{CustomerID: c.id, Email: "admin@" + c.id + ".test", Role: "admin"}, &u)
		e.key[c.id] = u.APIKey
		if c.id == "dist" { // the vendor makes its distributor an issuer
			e.must(200, "PATCH", "/v1/customers/dist", root, wire.UpdateCustomerRequest{Issuer: ptr(true)}, nil)
		}
	}
	for _, role := range []string{"viewer", "operator"} {
		var u wire.CreateUserResponse
		e.must(201, "POST", "/v1/users", e.key["acme"], wire.CreateUserRequest{CustomerID: "acme", Email: role + "@acme.test", Role: role}, &u)
		e.key["acme-"+role] = u.APIKey
	}
	e.must(201, "POST", "/v1/devices", e.key["acme"], wire.CreateDeviceRequest{ID: "dev-1", CustomerID: "acme", Model: "sensor-a", PublicKey: newPublicKey(e.t)}, nil)
	var ls wire.LicenseList
	e.must(201, "POST", "/v1/licenses", e.key["dist"], wire.CreateLicenseRequest{CustomerID: "acme", Type: "standard", Billing: "term",
		Models: []string{"sensor-*"}, MaxSamplesPerHour: 1000, DistributorDescription: "PO-4711", Count: 2}, &ls)
	e.must(200, "POST", "/v1/licenses/"+ls.Licenses[0].ID+"/bind", e.key["acme"], wire.BindRequest{DeviceID: "dev-1"}, nil)
	return ls.Licenses[0]
}

// auditCount is how many changes the ledger has recorded: every mutating
// action writes at least one entry, so an unchanged count means nothing
// changed.
func (e *apiEnv) auditCount() int {
	e.t.Helper()
	n, cursor := 0, ""
	for {
		es, next, err := e.lg.ListAudit(context.Background(), ledger.SystemActor(), cursor, ledger.MaxPageSize)
		if err != nil {
			e.t.Fatal(err)
		}
		n += len(es)
		if next == "" {
			return n
		}
		cursor = next
	}
}

// raw sends a body as is with a chosen content type (JSON when empty and a
// body is given).
func (e *apiEnv) raw(method, path, key, body, ctype string) (int, []byte) {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
		if ctype == "" {
			ctype = "application/json"
		}
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func ptr[T any](v T) *T { return &v }
