package ingest

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestGuard(t *testing.T) {
	const token = "0123456789abcdef0123456789abcdef"
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	quiet := slog.New(slog.DiscardHandler)
	tests := []struct {
		name   string
		opts   GuardOptions
		method string
		path   string
		host   string
		header map[string]string
		want   int
	}{
		{"ok/json_post", GuardOptions{Port: "7780"}, "POST", "/v1/samples", "127.0.0.1:7780", map[string]string{"Content-Type": "application/json"}, 200},
		{"ok/json_charset", GuardOptions{Port: "7780"}, "POST", "/v1/samples", "localhost:7780", map[string]string{"Content-Type": "application/json; charset=utf-8"}, 200},
		{"ok/get", GuardOptions{Port: "7780"}, "GET", "/v1/status", "[::1]:7780", nil, 200},
		{"ok/user_typed", GuardOptions{Port: "7780"}, "GET", "/v1/status", "127.0.0.1:7780", map[string]string{"Sec-Fetch-Site": "none"}, 200},
		{"ok/unix_any_host", GuardOptions{}, "POST", "/v1/samples", "agent", map[string]string{"Content-Type": "application/json"}, 200},
		{"ok/token", GuardOptions{Port: "7780", Token: []byte(token)}, "GET", "/v1/status", "127.0.0.1:7780", map[string]string{"Authorization": "Bearer " + token}, 200},
		{"ok/healthz_without_token", GuardOptions{Port: "7780", Token: []byte(token)}, "GET", "/healthz", "127.0.0.1:7780", nil, 200},
		{"error/origin", GuardOptions{Port: "7780"}, "POST", "/v1/samples", "127.0.0.1:7780", map[string]string{"Content-Type": "application/json", "Origin": "http://evil.example"}, 403},
		{"error/origin_null", GuardOptions{}, "POST", "/v1/samples", "agent", map[string]string{"Content-Type": "application/json", "Origin": "null"}, 403},
		{"error/origin_empty", GuardOptions{}, "POST", "/v1/samples", "agent", map[string]string{"Content-Type": "application/json", "Origin": ""}, 403},
		{"error/cross_site", GuardOptions{Port: "7780"}, "GET", "/v1/status", "127.0.0.1:7780", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"error/rebinding", GuardOptions{Port: "7780"}, "GET", "/v1/status", "evil.example:7780", nil, 421},
		{"error/port", GuardOptions{Port: "7780"}, "GET", "/v1/status", "127.0.0.1:7781", nil, 421},
		{"error/text_plain", GuardOptions{Port: "7780"}, "POST", "/v1/samples", "127.0.0.1:7780", map[string]string{"Content-Type": "text/plain"}, 415},
		{"error/no_type", GuardOptions{Port: "7780"}, "POST", "/v1/sync", "127.0.0.1:7780", nil, 415},
		{"error/no_token", GuardOptions{Port: "7780", Token: []byte(token)}, "POST", "/v1/samples", "127.0.0.1:7780", map[string]string{"Content-Type": "application/json"}, 401},
		{"error/healthz_post_without_token", GuardOptions{Port: "7780", Token: []byte(token)}, "POST", "/healthz", "127.0.0.1:7780", map[string]string{"Content-Type": "application/json"}, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Logger = quiet
			req := httptest.NewRequest(tt.method, "http://x"+tt.path, strings.NewReader("{}"))
			req.Host = tt.host
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			Guard(ok, tt.opts).ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Fatalf("%d %s, want %d", rec.Code, rec.Body, tt.want)
			}
			if tt.want == 401 && !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Bearer") {
				t.Fatal("401 without WWW-Authenticate: Bearer")
			}
		})
	}
}

var loopbackHostCases = []struct {
	host, port string
	want       bool
}{
	{"127.0.0.1:7780", "7780", true},
	{"localhost:7780", "7780", true},
	{"LOCALHOST:7780", "7780", true},
	{"[::1]:7780", "7780", true},
	{"127.0.0.1", "80", true},
	{"[::1]", "80", true},
	{"127.0.0.1", "7780", false},
	{"evil.example:7780", "7780", false},
	{"127.0.0.1.evil.example:7780", "7780", false},
	{"localhost.:7780", "7780", false},
	{"127.0.0.2:7780", "7780", false},
	{"", "7780", false},
	{"127.0.0.1:7780:1", "7780", false},
	{"[::1", "80", false},
}

func TestLoopbackHost(t *testing.T) {
	for _, c := range loopbackHostCases {
		if got := LoopbackHost(c.host, c.port); got != c.want {
			t.Errorf("LoopbackHost(%q, %q) = %v, want %v", c.host, c.port, got, c.want)
		}
	}
}

func FuzzLoopbackHost(f *testing.F) {
	for _, c := range loopbackHostCases {
		f.Add(c.host, c.port)
	}
	f.Fuzz(func(t *testing.T, host, port string) {
		if !LoopbackHost(host, port) {
			return
		}
		// Whatever it accepts names a loopback literal or localhost.
		h := strings.ToLower(host)
		if !strings.HasPrefix(h, "127.0.0.1") && !strings.HasPrefix(h, "localhost") && !strings.HasPrefix(h, "[::1]") && !strings.HasPrefix(h, "::1") {
			t.Fatalf("accepted Host %q", host)
		}
	})
}

var localTokenCases = []struct {
	name, in string
	ok       bool
}{
	{"ok/hex", strings.Repeat("ab", 32) + "\n", true},
	{"ok/crlf", strings.Repeat("x", 32) + "\r\n", true},
	{"error/short", "hunter2\n", false},
	{"error/space", strings.Repeat("a", 20) + " " + strings.Repeat("b", 20), false},
	{"error/two_lines", strings.Repeat("a", 32) + "\n" + strings.Repeat("b", 32), false},
	{"error/long", strings.Repeat("a", 300), false},
	{"error/empty", "", false},
}

func TestParseLocalToken(t *testing.T) {
	for _, c := range localTokenCases {
		t.Run(c.name, func(t *testing.T) {
			tok, err := ParseLocalToken([]byte(c.in))
			if (err == nil) != c.ok {
				t.Fatalf("err %v, want ok=%v", err, c.ok)
			}
			if c.ok && strings.ContainsAny(string(tok), "\r\n ") {
				t.Fatalf("token %q keeps whitespace", tok)
			}
		})
	}
}

func FuzzParseLocalToken(f *testing.F) {
	for _, c := range localTokenCases {
		f.Add([]byte(c.in))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		tok, err := ParseLocalToken(b)
		if err != nil {
			return
		}
		if len(tok) < 32 || len(tok) > 256 || strings.ContainsAny(string(tok), " \r\n\t") {
			t.Fatalf("accepted %q", tok)
		}
	})
}

// BenchmarkGuard is what the guard adds to every local API request (a
// token configured, the request allowed).
func BenchmarkGuard(b *testing.B) {
	const token = "0123456789abcdef0123456789abcdef"
	h := Guard(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}),
		GuardOptions{Port: "7780", Token: []byte(token), Logger: slog.New(slog.DiscardHandler)})
	req := httptest.NewRequest("POST", "http://127.0.0.1:7780/v1/samples", nil)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(rec, req)
	}
}
