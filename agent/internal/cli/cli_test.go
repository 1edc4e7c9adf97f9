package cli

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate-iot/tollgate/agent/internal/identity"
	"github.com/tollgate-iot/tollgate/agent/internal/runtime"
	"github.com/tollgate-iot/tollgate/agent/internal/testkit"
	"github.com/tollgate-iot/tollgate/shared/token"
)

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// initAgent runs init and returns the data dir and the device public key.
func initAgent(t *testing.T) (string, string) {
	t.Helper()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	trust := filepath.Join(dir, "trust.json")
	os.WriteFile(trust, testkit.TrustBundle(t), 0o644)
	code, stdout, stderr := run(t, "init", "--data", data, "--device-id", "pump-1", "--model", "TG-100", "--trust", trust, "-o", "json")
	if code != 0 {
		t.Fatalf("init: %d %s", code, stderr)
	}
	var doc map[string]string
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil || doc["device_id"] != "pump-1" {
		t.Fatalf("init -o json = %q (%v)", stdout, err)
	}
	if _, err := token.ParsePublicKey(doc["public_key"]); err != nil {
		t.Fatalf("public_key: %v", err)
	}
	st, _ := os.Stat(runtime.DeviceKeyPath(data))
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("device key mode %v", st.Mode().Perm())
	}
	return data, doc["public_key"]
}

func TestInitActivateStatus(t *testing.T) {
	data, pubText := initAgent(t)
	if code, _, stderr := run(t, "init", "--data", data, "--device-id", "pump-1", "--model", "TG-100"); code != 1 || !strings.HasPrefix(stderr, "error: already_initialized: ") {
		t.Fatalf("second init: %d %q", code, stderr)
	}
	pub, _ := token.ParsePublicKey(pubText)
	_, v2 := testkit.License(t, "pump-1", pub, func(l *token.License) { l.Version = 2 })
	_, v1 := testkit.License(t, "pump-1", pub, nil)
	_, other := testkit.License(t, "pump-2", pub, nil)
	_, otherKey := testkit.License(t, "pump-1", testkit.Pub("x"), nil)
	_, rev := testkit.Revocation(t, 1, nil, nil, nil)
	file := filepath.Join(t.TempDir(), "act.txt")
	os.WriteFile(file, []byte(v2+"\n"+rev+"\n"), 0o644)
	tests := []struct {
		name     string
		arg      string
		wantCode int
		wantErr  string
	}{
		{"ok/file", file, 0, ""},
		{"ok/same-again", v2, 0, ""},
		{"error/rollback", v1, 1, "error: rollback: "},
		{"error/wrong_device/id", other, 1, "error: wrong_device: "},
		{"error/wrong_device/key", otherKey, 1, "error: wrong_device: "},
		{"error/malformed", "tg1.lic.garbage", 1, "error: malformed: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := run(t, "activate", "--data", data, tt.arg)
			if code != tt.wantCode || !strings.HasPrefix(stderr, tt.wantErr) {
				t.Fatalf("activate: %d %q", code, stderr)
			}
		})
	}
	code, stdout, stderr := run(t, "status", "--data", data, "-o", "json")
	if code != 0 {
		t.Fatalf("status: %s", stderr)
	}
	var st map[string]any
	if err := json.Unmarshal([]byte(stdout), &st); err != nil {
		t.Fatalf("status -o json: %v\n%s", err, stdout)
	}
	for _, k := range []string{"device_id", "blacklisted", "tamper", "licenses", "budget", "refused", "queue", "last_sync"} {
		if _, ok := st[k]; !ok {
			t.Errorf("status lacks %q", k)
		}
	}
	lics := st["licenses"].([]any)
	if len(lics) != 1 {
		t.Fatalf("licenses = %v", lics)
	}
	l := lics[0].(map[string]any)
	for _, k := range []string{"id", "status", "expires", "max_samples_per_hour", "available_days"} {
		if _, ok := l[k]; !ok {
			t.Errorf("license lacks %q", k)
		}
	}
	if l["version"].(float64) != 2 {
		t.Fatalf("license version %v, want 2", l["version"])
	}
	if b := st["budget"].(map[string]any); b["limit_24h"].(float64) != 2400 {
		t.Fatalf("budget = %v", b)
	}
	if code, _, stderr := run(t, "sync", "--data", data); code != 1 || !strings.HasPrefix(stderr, "error: no_server: ") {
		t.Fatalf("sync without a server: %d %q", code, stderr)
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"no-command", nil},
		{"unknown-command", []string{"frobnicate"}},
		{"init-without-device", []string{"init", "--data", "x", "--model", "m"}},
		{"activate-without-arg", []string{"activate", "--data", "x"}},
		{"status-bad-output", []string{"status", "--data", "x", "-o", "yaml"}},
		{"run-without-data", []string{"run"}},
		{"sync-without-data", []string{"sync"}},
		{"sync-extra-arg", []string{"sync", "--data", "x", "now"}},
		{"run-clock-speed-without-origin", []string{"run", "--data", "x", "--clock-speed", "10"}},
		{"run-clock-speed-too-high", []string{"run", "--data", "x", "--clock-speed", "1e9", "--clock-origin", "2026-01-01T00:00:00Z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code, _, _ := run(t, tt.args...); code != 2 {
				t.Fatalf("exit %d, want 2", code)
			}
		})
	}
}

func TestInitFinishesAnInterruptedInit(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	os.MkdirAll(data, 0o700)
	// An init that died after creating the device key and before the state.
	if _, err := identity.Create(runtime.DeviceKeyPath(data)); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := run(t, "init", "--data", data, "--device-id", "pump-1", "--model", "TG-100", "-o", "json")
	if code != 0 {
		t.Fatalf("init after an interrupted init: %d %s", code, stderr)
	}
	var doc map[string]string
	json.Unmarshal([]byte(stdout), &doc)
	priv, err := identity.Load(runtime.DeviceKeyPath(data))
	if err != nil || doc["public_key"] != token.EncodePublicKey(priv.Public().(ed25519.PublicKey)) {
		t.Fatalf("init did not reuse the existing key: %v %v", doc, err)
	}
	if code, _, _ := run(t, "init", "--data", data, "--device-id", "pump-1", "--model", "TG-100"); code != 1 {
		t.Fatalf("init over a complete data directory: exit %d, want 1", code)
	}
}
