package ctl

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate-iot/tollgate/shared/cli"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// fakeServer records requests and answers with fixed documents.
func fakeServer(t *testing.T, seen *[]string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		*seen = append(*seen, r.Method+" "+r.URL.RequestURI()+" "+string(body)+" "+r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.HasSuffix(r.URL.Path, "/bind"):
			json.NewEncoder(w).Encode(wire.BindResponse{License: wire.License{ID: "L1", Status: "active", DeviceID: "dev-1"}})
		case strings.HasPrefix(r.URL.Path, "/v1/licenses/locked"):
			w.WriteHeader(409)
			json.NewEncoder(w).Encode(wire.ErrorBody{Error: wire.ErrorDetail{Code: "license_locked", Message: "license is locked"}})
		default:
			json.NewEncoder(w).Encode(wire.LicenseList{Licenses: []wire.License{{ID: "L1", Status: "unused"}}, NextCursor: "abc"})
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func run(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestCommandsCallTheAPI(t *testing.T) {
	var seen []string
	srv := fakeServer(t, &seen)
	t.Setenv("TOLLGATE_SERVER", srv.URL)
	t.Setenv("TOLLGATE_API_KEY", "tgk_test")
	tests := []struct {
		name string
		args []string
		req  string
		out  string
	}{
		{"bind/flags-after-id", []string{"license", "bind", "L1", "--device", "dev-1"}, `POST /v1/licenses/L1/bind {"device_id":"dev-1"} Bearer tgk_test`, "active"},
		{"list/stored-filters", []string{"license", "list", "--serial-prefix", "TG-1", "--locked", "true", "--days-min", "2", "--days-max", "9", "-o", "json"},
			"GET /v1/licenses?days_max=9&days_min=2&locked=true&serial_prefix=TG-1", `"next_cursor": "abc"`},
		{"list/filters", []string{"license", "list", "--status", "active", "--expiring-within", "30d", "-o", "json"},
			"GET /v1/licenses?expiring_within=30d&status=active", `"next_cursor": "abc"`},
		{"list/range-filters", []string{"license", "list", "--description", "PO 47", "--activated-from", "2026-01-01", "--ends-to", "2026-07-01", "--device", "dev-1", "-o", "json"},
			"GET /v1/licenses?activated_from=2026-01-01&description=PO+47&device=dev-1&ends_to=2026-07-01", `"next_cursor": "abc"`},
		{"sales/filters", []string{"sales", "list", "--from", "2026-05-01", "--to", "2026-06-01", "--license", "L1", "--method", "sell", "-o", "json"},
			"GET /v1/sales?from=2026-05-01&license=L1&method=sell&to=2026-06-01", `"sales"`},
		{"global-flags-first", []string{"--api-key", "tgk_other", "license", "list"}, "Bearer tgk_other", "L1"},
		{"csv", []string{"license", "list", "-o", "csv"}, "GET /v1/licenses", "ID,SERIAL,CUSTOMER"},
		{"renew-off", []string{"license", "renew", "L1", "--off"}, `POST /v1/licenses/L1/renew {"renew":false}`, "RENEW"},
		{"sell-by-ids", []string{"license", "sell", "--to", "acme", "--ids", "a,b"}, `POST /v1/sales/sell {"customer_id":"acme","ids":["a","b"]}`, ""},
		{"device-sync", []string{"device", "sync", "dev-1"}, "GET /v1/devices/dev-1/sync", "ACKED_SEQ"},
		{"device-sync-csv", []string{"device", "sync", "dev-1", "-o", "csv"}, "GET /v1/devices/dev-1/sync", "DEVICE,LAST_SYNC"},
		{"id-escaped-in-path", []string{"license", "show", "a b"}, "GET /v1/licenses/a%20b", ""},
		{"grant-issuer", []string{"customer", "set", "dist", "--issuer=true", "--allowed-months", "12,24", "--max-days", "365"},
			`PATCH /v1/customers/dist {"issuer":true,"allowed_months":[12,24],"max_days":365}`, "ISSUER"},
		{"issuer-any-duration", []string{"customer", "set", "dist", "--allowed-months", "any"}, `PATCH /v1/customers/dist {"allowed_months":[]}`, ""},
		{"revoke-issuer", []string{"customer", "set", "dist", "--issuer=false"}, `PATCH /v1/customers/dist {"issuer":false}`, ""},
		{"create-capacity", []string{"license", "create", "--customer", "acme", "--type", "standard", "--billing", "term", "--models", "gw-*",
			"--start-at-children", "5", "--max-children", "20"}, `"max_children":20,"start_at_children":5`, "L1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			seen = nil
			code, out, errOut := run(tc.args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if len(seen) != 1 || !strings.Contains(seen[0], tc.req) {
				t.Fatalf("requests %q, want one containing %q", seen, tc.req)
			}
			if !strings.Contains(out, tc.out) {
				t.Fatalf("output %q lacks %q", out, tc.out)
			}
		})
	}
}

func TestErrorsAndUsage(t *testing.T) {
	var seen []string
	srv := fakeServer(t, &seen)
	t.Setenv("TOLLGATE_SERVER", srv.URL)
	t.Setenv("TOLLGATE_API_KEY", "tgk_test")
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"server-error-code", []string{"license", "lock", "locked-1"}, 1, "error: license_locked: license is locked\n"},
		{"unknown-command", []string{"license", "frobnicate"}, 2, "error: usage: unknown command"},
		{"missing-id", []string{"license", "show"}, 2, "error: usage: license show: want 1 argument"},
		{"bad-output", []string{"license", "list", "-o", "yaml"}, 2, "error: usage: "},
		{"renew-needs-one", []string{"license", "renew", "L1"}, 2, "error: usage: license renew"},
		{"bad-bool", []string{"customer", "set", "acme", "--allow-superior-manage=maybe"}, 2, "error: usage: "},
		{"bad-issuer-bool", []string{"customer", "set", "dist", "--issuer=perhaps"}, 2, "error: usage: --issuer"},
		{"bad-allowed-months", []string{"customer", "set", "dist", "--allowed-months", "12,two"}, 2, "error: usage: --allowed-months"},
		{"bad-max-offline", []string{"license", "create", "--customer", "c", "--type", "standard", "--billing", "term", "--models", "*", "--max-offline", "soon"}, 2, "error: usage: "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := run(tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.stderr) {
				t.Fatalf("exit %d stderr %q, want %d %q", code, errOut, tc.code, tc.stderr)
			}
		})
	}
	t.Setenv("TOLLGATE_API_KEY", "")
	if code, _, errOut := run("license", "list"); code != 2 || !strings.Contains(errOut, "TOLLGATE_API_KEY") {
		t.Fatalf("without a key: %d %q", code, errOut)
	}
	if code, _, _ := run("license", "list", "--api-key", "k", "--server", "http://127.0.0.1:1"); code != 1 {
		t.Fatalf("unreachable server: exit %d", code)
	}
}

func TestHelpEverywhere(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"top", []string{"-h"}, 0, "ID --device DEV"},
		{"group", []string{"license", "-h"}, 0, "usage: tollgatectl license VERB"},
		{"group-without-verb", []string{"license"}, 2, "usage: tollgatectl license VERB"},
		{"command", []string{"license", "bind", "-h"}, 0, "-device"},
		{"unknown-group", []string{"frob"}, 2, "usage: tollgatectl COMMAND"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := run(tc.args...)
			got := errOut // usage errors go to stderr, help to stdout
			if tc.code == 0 {
				got = out
			}
			if code != tc.code || !strings.Contains(got, tc.want) {
				t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
			}
		})
	}
}

func TestCATrustsAnHTTPSServer(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(wire.WhoAmI{UserID: "u1", CustomerID: "acme", Role: "viewer"})
	}))
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.crt")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644)
	t.Setenv("TOLLGATE_SERVER", srv.URL)
	t.Setenv("TOLLGATE_API_KEY", "tgk_x")
	if code, _, errOut := run("whoami"); code != 1 || !strings.HasPrefix(errOut, "error: unavailable: ") {
		t.Fatalf("without --ca: %d %q", code, errOut)
	}
	if code, out, errOut := run("whoami", "--ca", ca); code != 0 || !strings.Contains(out, "acme") {
		t.Fatalf("with --ca: %d %q %q", code, out, errOut)
	}
	t.Setenv("TOLLGATE_CA", ca)
	if code, _, errOut := run("whoami"); code != 0 {
		t.Fatalf("with TOLLGATE_CA: %d %q", code, errOut)
	}
}

func FuzzParseMonths(f *testing.F) {
	for _, s := range []string{"12,24", "any", "", "12,two", " 6 , 12", "1,1,1", "-3", "99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ms, err := parseMonths(s)
		if err != nil {
			var u *cli.UsageError
			if !errors.As(err, &u) {
				t.Fatalf("%q: error %v is not a usage error", s, err)
			}
			return
		}
		if len(ms) > wire.MaxIssuerDurations {
			t.Fatalf("%q: %d durations", s, len(ms))
		}
	})
}
