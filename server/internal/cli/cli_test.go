package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate-iot/tollgate/shared/token"
)

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestKeysRotateListTrust(t *testing.T) {
	dir := t.TempDir()
	if code, _, stderr := run(t, "keys", "list", "--data", dir); code != 1 || !strings.HasPrefix(stderr, "error: no_keys: ") {
		t.Fatalf("keys list on empty dir: code %d, stderr %q", code, stderr)
	}
	for i := 0; i < 2; i++ {
		if code, _, stderr := run(t, "keys", "rotate", "--data", dir); code != 0 {
			t.Fatalf("rotate: code %d, %s", code, stderr)
		}
	}
	code, stdout, _ := run(t, "keys", "list", "--data", dir, "-o", "json")
	if code != 0 {
		t.Fatalf("keys list: code %d", code)
	}
	var doc struct {
		Keys []struct {
			ID     string `json:"id"`
			Active bool   `json:"active"`
		} `json:"keys"`
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("keys list -o json is not one JSON document: %v\n%s", err, stdout)
	}
	if len(doc.Keys) != 2 || doc.Keys[0].Active || !doc.Keys[1].Active {
		t.Fatalf("keys = %+v, want two with the newest active", doc.Keys)
	}
	bundle := filepath.Join(dir, "trust.json")
	if code, _, stderr := run(t, "trust", "--data", dir, "--out", bundle); code != 0 {
		t.Fatalf("trust: %s", stderr)
	}
	b, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := token.ParseTrustBundle(b)
	if err != nil {
		t.Fatal(err)
	}
	if got := tr.IDs(); len(got) != 2 {
		t.Fatalf("trust bundle has %v", got)
	}
	if strings.Contains(string(b), "PRIVATE") {
		t.Fatal("trust bundle contains private key material")
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"no-command", nil},
		{"unknown-command", []string{"frobnicate"}},
		{"keys-without-verb", []string{"keys"}},
		{"keys-without-data", []string{"keys", "list"}},
		{"unknown-flag", []string{"keys", "list", "--data", "x", "--nope"}},
		{"bad-output", []string{"keys", "list", "--data", "x", "-o", "yaml"}},
		{"trust-without-out", []string{"trust", "--data", "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code, _, _ := run(t, tt.args...); code != 2 {
				t.Fatalf("exit %d, want 2", code)
			}
		})
	}
}
