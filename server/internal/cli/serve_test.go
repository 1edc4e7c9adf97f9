package cli

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/certs"
)

func TestInitPrintsKeysOnceAndRefusesSecondInit(t *testing.T) {
	dir := t.TempDir()
	code, stdout, stderr := run(t, "init", "--data", dir, "--name", "Vendor", "-o", "json")
	if code != 0 {
		t.Fatalf("init: %d %s", code, stderr)
	}
	var res map[string]string
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("init -o json is not one JSON document: %v\n%s", err, stdout)
	}
	if res["root_customer_id"] == "" || !strings.HasPrefix(res["admin_api_key"], "tgk_") || len(res["key_id"]) != 16 || len(res) != 3 {
		t.Fatalf("init printed %v", res)
	}
	code, _, stderr = run(t, "init", "--data", dir)
	if code != 1 || !strings.HasPrefix(stderr, "error: already_initialized: ") {
		t.Fatalf("second init: %d %q", code, stderr)
	}
	if code, stdout, _ := run(t, "keys", "list", "--data", dir, "-o", "json"); code != 0 || !strings.Contains(stdout, res["key_id"]) {
		t.Fatalf("keys list does not show the init key: %s", stdout)
	}
}

func TestServeRefusesUninitializedAndBadConfig(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"not-initialized", []string{"serve", "--data", t.TempDir(), "--http", "127.0.0.1:0"}, 1, "error: not_initialized: "},
		{"no-data", []string{"serve"}, 2, "error: usage: "},
		{"bad-addr", []string{"serve", "--data", "x", "--http", "nonsense"}, 2, "error: usage: "},
		{"bad-level", []string{"serve", "--data", "x", "--log-level", "loud"}, 2, "error: usage: "},
		{"external-broker-with-mqtt-listener", []string{"serve", "--data", "x", "--mqtt", "127.0.0.1:0", "--broker", "tcp://broker.example:1883"}, 2,
			"error: usage: --mqtt and --mqtt-tls-* configure the embedded broker's listener"},
		{"external-broker-bad-url", []string{"serve", "--data", "x", "--broker", "tcp://broker.example"}, 2, "error: usage: --broker: "},
		{"external-broker-ca-on-tcp", []string{"serve", "--data", "x", "--broker", "tcp://127.0.0.1:1884", "--broker-ca", "ca.crt"}, 2, "error: usage: "},
		{"password-without-username", []string{"serve", "--data", "x", "--broker", "tcp://127.0.0.1:1884", "--broker-password-file", "pw"}, 2, "error: usage: "},
		{"broker-credentials-on-embedded", []string{"serve", "--data", "x", "--broker-username", "u"}, 2, "error: usage: "},
		{"bad-flush-interval", []string{"serve", "--data", "x", "--observed-flush-interval", "0s"}, 2, "error: usage: "},
		{"unknown-broker", []string{"serve", "--data", "x", "--broker", "mosquitto"}, 2, "error: usage: "},
		{"bad-mqtt-addr", []string{"serve", "--data", "x", "--mqtt", "nonsense"}, 2, "error: usage: "},
		{"half-mqtt-tls-pair", []string{"serve", "--data", "x", "--mqtt", "127.0.0.1:0", "--mqtt-tls-cert", "s.crt"}, 2, "error: usage: "},
		{"mqtt-tls-without-mqtt", []string{"serve", "--data", "x", "--mqtt-tls-cert", "s.crt", "--mqtt-tls-key", "s.key"}, 2, "error: usage: "},
		{"bad-mqtt-port", []string{"serve", "--data", "x", "--mqtt", "127.0.0.1:99999"}, 2, "error: usage: "},
		{"mqtt-max-payload-below-telemetry", []string{"serve", "--data", "x", "--mqtt-max-payload", "1024"}, 2, "error: usage: --mqtt-max-payload 1024: "},
		{"mqtt-max-payload-huge", []string{"serve", "--data", "x", "--mqtt-max-payload", "1073741824"}, 2, "error: usage: --mqtt-max-payload "},
		{"jetstream-max-store-tiny", []string{"serve", "--data", "x", "--jetstream-max-store", "1"}, 2, "error: usage: --jetstream-max-store 1: "},
		{"jetstream-max-memory-negative", []string{"serve", "--data", "x", "--jetstream-max-memory", "-1"}, 2, "error: usage: --jetstream-max-memory -1: "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := run(t, tc.args...)
			if code != tc.code || !strings.HasPrefix(stderr, tc.want) {
				t.Fatalf("code %d stderr %q", code, stderr)
			}
		})
	}
}

func TestServeAnswersAndShutsDownOnCancel(t *testing.T) {
	serveAndCheck(t, nil, http.DefaultClient, "http: http://127.0.0.1:")
}

func TestServeOverTLS(t *testing.T) {
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
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	serveAndCheck(t, []string{"--tls-cert", filepath.Join(pki, certs.ServerCert), "--tls-key", filepath.Join(pki, certs.ServerKey)},
		client, "http: https://127.0.0.1:")
	if code, _, stderr := run(t, "serve", "--data", t.TempDir(), "--tls-cert", "x.crt"); code != 2 || !strings.Contains(stderr, "go together") {
		t.Fatalf("half a TLS pair: %d %q", code, stderr)
	}
}

// serveAndCheck inits a data directory, serves it with extra flags, fetches
// /healthz with client and stops the server by cancelling its context.
func serveAndCheck(t *testing.T, extra []string, client *http.Client, wantPrefix string) {
	t.Helper()
	dir := t.TempDir()
	if code, _, stderr := run(t, "init", "--data", dir); code != 0 {
		t.Fatal(stderr)
	}
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		args := append([]string{"serve", "--data", dir, "--http", "127.0.0.1:0", "--profile", "small", "--log-level", "error"}, extra...)
		done <- Run(ctx, args, pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, wantPrefix) {
		t.Fatalf("serve printed %q, %v", line, err)
	}
	url := strings.TrimSpace(strings.TrimPrefix(line, "http: "))
	resp, err := client.Get(url + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()
	resp, err = client.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`tollgate_http_requests_total{code="200",method="GET",route="/healthz"} 1`,
		"# TYPE tollgate_scheduler_applied_total counter", "# TYPE tollgate_scheduler_errors_total counter"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
	cancel()
	go io.Copy(io.Discard, pr)
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("serve exited %d", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop after cancel")
	}
}
