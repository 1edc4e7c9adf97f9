package cli

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate-iot/tollgate/server/internal/api"
	"github.com/tollgate-iot/tollgate/server/internal/app"
	"github.com/tollgate-iot/tollgate/server/internal/keys"
	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/clock"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// TestServerUsageErrorIsOneLineAndTheSynopsis runs bad command lines
// through the real command table: one error line, the synopsis, exit 2; a
// mistyped command gets "did you mean"; -h prints on stdout.
func TestServerUsageErrorIsOneLineAndTheSynopsis(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown-flag", []string{"serve", "--data", "x", "--mqt", "127.0.0.1:1883"},
			"error: usage: flag provided but not defined: -mqt\nusage: tollgate-server serve --data DIR [--http ADDR] [--mqtt ADDR] " +
				"[--broker embedded|tcp://HOST:PORT|ssl://HOST:PORT] [--tls-cert FILE --tls-key FILE] [flags]\n"},
		{"missing-data", []string{"keys", "list"}, "error: usage: --data is required\nusage: tollgate-server keys list --data DIR [-o table|json|csv]\n"},
		{"typo", []string{"serv", "--data", "x"},
			"error: usage: unknown command \"serv\"; did you mean \"serve\"?\nusage: tollgate-server COMMAND [flags]   (tollgate-server -h lists the commands)\n"},
		{"typo-verb", []string{"keys", "rotat"},
			"error: usage: unknown command \"keys rotat\"; did you mean \"keys rotate\"?\nusage: tollgate-server COMMAND [flags]   (tollgate-server -h lists the commands)\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := run(t, tc.args...)
			if code != 2 || stdout != "" || stderr != tc.want {
				t.Fatalf("exit %d, stdout %q, stderr:\n%s\nwant exit 2 and:\n%s", code, stdout, stderr, tc.want)
			}
		})
	}
	code, stdout, stderr := run(t, "serve", "-h")
	if code != 0 || stderr != "" || !strings.HasPrefix(stdout, "usage: tollgate-server serve --data DIR") || !strings.Contains(stdout, "-mqtt-max-payload") {
		t.Fatalf("serve -h: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	for _, c := range program.Commands {
		if !strings.HasPrefix(c.Synopsis, c.Name) || c.Summary == "" {
			t.Errorf("%q: synopsis %q, summary %q", c.Name, c.Synopsis, c.Summary)
		}
		code, stdout, _ := run(t, append(strings.Fields(c.Name), "-h")...)
		if code != 0 || !strings.HasPrefix(stdout, "usage: tollgate-server "+c.Synopsis) {
			t.Errorf("%s -h: exit %d, stdout %q", c.Name, code, stdout)
		}
	}
}

// TestServeMissingDataLeavesNothing: serve --data with a directory that
// does not exist refuses before creating anything in it.
func TestServeMissingDataLeavesNothing(t *testing.T) {
	for _, args := range [][]string{{"serve", "--http", "127.0.0.1:0"}, {"keys", "list"}, {"admin-key"}, {"trust", "--out", "-"}} {
		missing := filepath.Join(t.TempDir(), "missing")
		code, _, stderr := run(t, append(args, "--data", missing)...)
		if code != 1 || !strings.HasPrefix(stderr, "error: not_initialized: "+missing+" is not a directory; run tollgate-server init --data "+missing) {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
		}
		if _, err := os.Stat(missing); !os.IsNotExist(err) {
			t.Errorf("%v left %s behind (%v)", args, missing, err)
		}
	}
}

// TestAdminKeyRecovery: with the data directory and no key, admin-key
// mints a vendor admin key that the real API accepts, audited as a system
// action; while another process holds the ledger it refuses.
func TestAdminKeyRecovery(t *testing.T) {
	dir := t.TempDir()
	if code, _, stderr := run(t, "init", "--data", dir); code != 0 {
		t.Fatalf("init: %s", stderr)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	held, err := store.Open(store.Options{Dir: app.LedgerDir(dir), Profile: store.ProfileSmall, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	code, _, stderr := run(t, "admin-key", "--data", dir)
	held.Close()
	if code != 1 || !strings.HasPrefix(stderr, "error: data_in_use: a running tollgate-server holds ") {
		t.Fatalf("admin-key beside a running server: exit %d, stderr %q", code, stderr)
	}

	code, stdout, stderr := run(t, "admin-key", "--data", dir, "--email", "ops@vendor.test", "-o", "json")
	if code != 0 {
		t.Fatalf("admin-key: exit %d, stderr %q", code, stderr)
	}
	var res adminKeyResult
	if err := json.Unmarshal([]byte(stdout), &res); err != nil || !strings.HasPrefix(res.AdminAPIKey, ledger.APIKeyPrefix) {
		t.Fatalf("admin-key printed %q (%v)", stdout, err)
	}

	db, err := store.Open(store.Options{Dir: app.LedgerDir(dir), Profile: store.ProfileSmall, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ks, err := keys.Open(dir, clock.Real{})
	if err != nil {
		t.Fatal(err)
	}
	lg, err := ledger.New(ledger.Options{DB: db, Clock: clock.Real{}, Keys: ks, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api.New(api.Options{Ledger: lg, Logger: quiet}).Handler())
	defer srv.Close()
	get := func(path string, out any) {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+res.AdminAPIKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s with the recovered key: %s", path, resp.Status)
		}
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
	var who wire.WhoAmI
	get("/v1/whoami", &who)
	if who.UserID != res.UserID || who.CustomerID != lg.RootID() || who.Role != "admin" {
		t.Fatalf("whoami with the recovered key: %+v", who)
	}
	var audit wire.AuditList
	get("/v1/audit", &audit)
	if len(audit.Entries) == 0 || audit.Entries[0].Action != "user.create" || audit.Entries[0].ObjectID != res.UserID || audit.Entries[0].UserID != "system" {
		t.Fatalf("newest audit entry is not the system's user.create of %s: %+v", res.UserID, audit.Entries[:1])
	}
}
