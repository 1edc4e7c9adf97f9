package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/app"
	"github.com/tollgate-iot/tollgate/server/internal/store/storetest"
)

// TestServeOnPostgres: init, serve and admin-key with --store on a
// PostgreSQL database keep the ledger there (no badger directory is made),
// and the admin key init printed is answered by serve.
func TestServeOnPostgres(t *testing.T) {
	pg := storetest.PostgresURL(t)
	dir := t.TempDir()
	code, stdout, stderr := run(t, "init", "--data", dir, "--store", pg, "-o", "json")
	if code != 0 {
		t.Fatalf("init --store postgres: %d %s", code, stderr)
	}
	var res map[string]string
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(app.LedgerDir(dir)); !os.IsNotExist(err) {
		t.Fatalf("init --store postgres made a badger ledger in %s: %v", filepath.Base(app.LedgerDir(dir)), err)
	}
	if code, _, stderr := run(t, "admin-key", "--data", dir, "--store", pg, "--email", "second@vendor.test"); code != 0 {
		t.Fatalf("admin-key --store postgres: %d %s", code, stderr)
	}
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"serve", "--data", dir, "--store", pg, "--http", "127.0.0.1:0", "--log-level", "error"}, pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "http: ") {
		t.Fatalf("serve printed %q, %v", line, err)
	}
	go io.Copy(io.Discard, pr)
	req, _ := http.NewRequest("GET", strings.TrimSpace(strings.TrimPrefix(line, "http: "))+"/v1/whoami", nil)
	req.Header.Set("Authorization", "Bearer "+res["admin_api_key"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), res["root_customer_id"]) {
		t.Fatalf("whoami on a PostgreSQL ledger: %d %s", resp.StatusCode, body)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("serve exited %d", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop after cancel")
	}
}

// TestServeRefusesUnknownStore: --store takes badger or a postgres:// URL
// and nothing else, and the refusal does not print the URL's password.
func TestServeRefusesUnknownStore(t *testing.T) {
	dir := t.TempDir()
	code, _, stderr := run(t, "serve", "--data", dir, "--store", "mysql://u:s3cret@db/x")
	if code != 2 || !strings.Contains(stderr, "--store") || strings.Contains(stderr, "s3cret") {
		t.Fatalf("serve --store mysql://: %d %q", code, stderr)
	}
}
