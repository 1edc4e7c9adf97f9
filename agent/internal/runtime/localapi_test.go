package runtime

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate-iot/tollgate/agent/internal/config"
	"github.com/tollgate-iot/tollgate/shared/token"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// dayAgent runs an agent holding one day license of 5 days, the budget
// and days a web page would want to spend.
func dayAgent(t *testing.T, mod func(*config.Config)) *harness {
	t.Helper()
	return startAgent(t, "", mod, func(pub string) []string {
		return []string{license(t, pub, func(l *token.License) { l.Billing, l.Days = token.BillingDays, 5 })}
	})
}

// spent returns what the agent has used: samples in the last 24 h and the
// days left on its one license.
func spent(t *testing.T, h *harness) (used, days int64) {
	t.Helper()
	st := h.agent.Status()
	if len(st.Licenses) != 1 || st.Licenses[0].AvailableDays == nil {
		t.Fatalf("licenses %+v", st.Licenses)
	}
	return st.Budget.Used24h, *st.Licenses[0].AvailableDays
}

// localRequest sends one request to the agent's local API and returns the
// status and the error code of the answer, if any.
func localRequest(t *testing.T, c *http.Client, method, url, host string, header map[string]string, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e wire.ErrorBody
	json.Unmarshal(b, &e)
	return resp.StatusCode, e.Error.Code
}

const oneSample = `{"data":{"t":1}}`

// TestLocalAPIRefusesCrossOrigin performs what a web page opened in a
// browser on the device can do against the agent on loopback: "simple"
// cross-origin requests (text/plain or form bodies, which need no CORS
// preflight) to ingest, activate, export and status. Each is refused and
// nothing is spent; the same sample sent by a local program is accepted
// and charges a day, so the refusals are what kept the budget.
func TestLocalAPIRefusesCrossOrigin(t *testing.T) {
	h := dayAgent(t, nil)
	base := "http://" + h.addr
	tests := []struct {
		name   string
		method string
		path   string
		header map[string]string
		body   string
		status int
		code   string
	}{
		{"error/text_plain_with_origin", "POST", "/v1/samples",
			map[string]string{"Content-Type": "text/plain", "Origin": "http://evil.example"}, oneSample, 403, "browser_request"},
		{"error/json_with_origin", "POST", "/v1/samples",
			map[string]string{"Content-Type": "application/json", "Origin": "http://evil.example"}, oneSample, 403, "browser_request"},
		{"error/no_cors_fetch", "POST", "/v1/samples",
			map[string]string{"Content-Type": "text/plain;charset=UTF-8", "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"}, oneSample, 403, "browser_request"},
		{"error/text_plain_without_origin", "POST", "/v1/samples",
			map[string]string{"Content-Type": "text/plain"}, oneSample, 415, "unsupported_media_type"},
		{"error/form", "POST", "/v1/samples",
			map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, oneSample, 415, "unsupported_media_type"},
		{"error/no_content_type", "POST", "/v1/samples", nil, oneSample, 415, "unsupported_media_type"},
		{"error/activate_with_origin", "POST", "/v1/activate",
			map[string]string{"Content-Type": "text/plain", "Origin": "null"}, `{"documents":["x"]}`, 403, "browser_request"},
		{"error/export_form", "POST", "/v1/export-usage",
			map[string]string{"Content-Type": "multipart/form-data; boundary=x"}, "", 415, "unsupported_media_type"},
		{"error/sync_same_site", "POST", "/v1/sync",
			map[string]string{"Content-Type": "application/json", "Sec-Fetch-Site": "same-site"}, "", 403, "browser_request"},
		{"error/status_cors_read", "GET", "/v1/status",
			map[string]string{"Origin": "http://evil.example"}, "", 403, "browser_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, code := localRequest(t, nil, tt.method, base+tt.path, "", tt.header, tt.body)
			if status != tt.status || code != tt.code {
				t.Fatalf("%s %s: %d %q, want %d %q", tt.method, tt.path, status, code, tt.status, tt.code)
			}
		})
	}
	if used, days := spent(t, h); used != 0 || days != 5 {
		t.Fatalf("after the attacks: %d samples used, %d days left; want 0 and 5", used, days)
	}
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	scrape, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`tollgate_agent_local_api_refused_total{code="browser_request"} 6`,
		`tollgate_agent_local_api_refused_total{code="unsupported_media_type"} 4`} {
		if !strings.Contains(string(scrape), want) {
			t.Fatalf("metrics lack %s:\n%s", want, scrape)
		}
	}
	// A local program (no Origin, JSON) is served, and it does spend.
	status, _ := localRequest(t, nil, "POST", base+"/v1/samples", "", map[string]string{"Content-Type": "application/json"}, oneSample)
	if used, days := spent(t, h); status != 200 || used != 1 || days != 4 {
		t.Fatalf("a local client: HTTP %d, %d used, %d days left; want 200, 1 and 4", status, used, days)
	}
	// A user typing the status URL into the browser (Sec-Fetch-Site none,
	// no Origin) reads it.
	if status, _ := localRequest(t, nil, "GET", base+"/v1/status", "", map[string]string{"Sec-Fetch-Site": "none"}, ""); status != 200 {
		t.Fatalf("GET /v1/status typed by the user: %d", status)
	}
}

// TestLocalAPIRefusesDNSRebinding: a page on evil.example whose name
// rebinds to 127.0.0.1 is same-origin with the agent as far as the browser
// knows, so it sends no Origin on a GET and may read the answer; only the
// Host header tells it apart. The agent answers 421 and spends nothing.
func TestLocalAPIRefusesDNSRebinding(t *testing.T) {
	h := dayAgent(t, nil)
	_, port, _ := net.SplitHostPort(h.addr)
	base := "http://" + h.addr
	json := map[string]string{"Content-Type": "application/json"}
	tests := []struct {
		name   string
		method string
		path   string
		host   string
		status int
	}{
		{"error/status", "GET", "/v1/status", "evil.example:" + port, 421},
		{"error/samples", "POST", "/v1/samples", "evil.example:" + port, 421},
		{"error/no_port", "POST", "/v1/samples", "evil.example", 421},
		{"error/loopback_suffix", "POST", "/v1/samples", "localhost.evil.example:" + port, 421},
		{"error/other_port", "POST", "/v1/samples", "127.0.0.1:1", 421},
		{"error/metrics", "GET", "/metrics", "evil.example:" + port, 421},
		{"ok/localhost", "GET", "/v1/status", "localhost:" + port, 200},
		{"ok/ipv4", "GET", "/v1/status", "127.0.0.1:" + port, 200},
		{"ok/ipv6", "GET", "/v1/status", "[::1]:" + port, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if status, _ := localRequest(t, nil, tt.method, base+tt.path, tt.host, json, oneSample); status != tt.status {
				t.Fatalf("%s %s Host %s: %d, want %d", tt.method, tt.path, tt.host, status, tt.status)
			}
		})
	}
	if used, days := spent(t, h); used != 0 || days != 5 {
		t.Fatalf("after the rebinding attacks: %d samples used, %d days left; want 0 and 5", used, days)
	}
}

// TestLocalAPITokenRequired: with local_token_file set, a local program
// without the token (or with another) is refused and spends nothing; with
// it, it is served. /healthz stays open for liveness probes.
func TestLocalAPITokenRequired(t *testing.T) {
	const secret = "6b1f0c9e2d7a4e3f8b5c1d0a9e8f7b6c5d4e3f2a1b0c9d8e"
	tokenFile := filepath.Join(t.TempDir(), "local.token")
	if err := os.WriteFile(tokenFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := dayAgent(t, func(c *config.Config) { c.LocalTokenFile = tokenFile })
	base := "http://" + h.addr
	hdr := func(auth string) map[string]string {
		m := map[string]string{"Content-Type": "application/json"}
		if auth != "" {
			m["Authorization"] = auth
		}
		return m
	}
	tests := []struct {
		name   string
		method string
		path   string
		auth   string
		status int
	}{
		{"error/none", "POST", "/v1/samples", "", 401},
		{"error/wrong", "POST", "/v1/samples", "Bearer " + strings.Repeat("0", len(secret)), 401},
		{"error/prefix", "POST", "/v1/samples", "Bearer " + secret[:len(secret)-1], 401},
		{"error/basic", "POST", "/v1/samples", "Basic " + secret, 401},
		{"error/status", "GET", "/v1/status", "", 401},
		{"error/metrics", "GET", "/metrics", "", 401},
		{"ok/healthz", "GET", "/healthz", "", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if status, _ := localRequest(t, nil, tt.method, base+tt.path, "", hdr(tt.auth), oneSample); status != tt.status {
				t.Fatalf("%s %s: %d, want %d", tt.method, tt.path, status, tt.status)
			}
		})
	}
	if used, days := spent(t, h); used != 0 || days != 5 {
		t.Fatalf("without the token: %d samples used, %d days left; want 0 and 5", used, days)
	}
	if status, _ := localRequest(t, nil, "POST", base+"/v1/samples", "", hdr("Bearer "+secret), oneSample); status != 200 {
		t.Fatalf("with the token: %d", status)
	}
	if used, _ := spent(t, h); used != 1 {
		t.Fatalf("with the token: %d used, want 1", used)
	}
}

// TestLocalAPITokenFileRefused: run refuses to start on a token file
// others can read, or one too short to be a secret.
func TestLocalAPITokenFileRefused(t *testing.T) {
	dir := t.TempDir()
	for name, tc := range map[string]struct {
		content string
		mode    os.FileMode
	}{
		"error/world_readable": {strings.Repeat("a", 40), 0o644},
		"error/short":          {"hunter2", 0o600},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(name, "/", "_"))
			if err := os.WriteFile(path, []byte(tc.content), tc.mode); err != nil {
				t.Fatal(err)
			}
			os.Chmod(path, tc.mode)
			cfg := config.Default()
			cfg.Data = filepath.Join(t.TempDir(), "data")
			cfg.Ingest = "127.0.0.1:0"
			cfg.LocalTokenFile = path
			if _, err := Init(context.Background(), cfg, InitRequest{DeviceID: devID, Model: "TG-100"}, Options{}); err != nil {
				t.Fatal(err)
			}
			a, err := Open(context.Background(), cfg, Options{Logger: discardLogger()})
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			if err := a.Run(context.Background(), nil); ErrorCode(err) != "bad_local_token" {
				t.Fatalf("run: %v (code %s), want bad_local_token", err, ErrorCode(err))
			}
		})
	}
}

// TestLocalAPIOnUnixSocket: a unix socket has no Host to check (clients
// write any name; no browser reaches it); the browser checks still apply.
func TestLocalAPIOnUnixSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "agent.sock")
	h := dayAgent(t, func(c *config.Config) { c.Ingest = "unix:" + sock })
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	if status, code := localRequest(t, c, "POST", "http://agent/v1/samples", "", map[string]string{"Content-Type": "application/json", "Origin": "http://evil.example"}, oneSample); status != 403 {
		t.Fatalf("with Origin over the socket: %d %s", status, code)
	}
	if status, code := localRequest(t, c, "POST", "http://agent/v1/samples", "", map[string]string{"Content-Type": "application/json"}, oneSample); status != 200 {
		t.Fatalf("over the socket: %d %s", status, code)
	}
	if used, _ := spent(t, h); used != 1 {
		t.Fatalf("%d used, want 1", used)
	}
}
