package ctl

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/api"
	"github.com/tollgate-iot/tollgate/server/internal/keys"
	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/server/internal/ledgertest"
	"github.com/tollgate-iot/tollgate/shared/airgap"
	"github.com/tollgate-iot/tollgate/shared/clock"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
	"github.com/tollgate-iot/tollgate/shared/token"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// realServer is the real API over a real ledger in t.TempDir(), with the
// root key in the environment, its key store and its ledger.
func realServer(t *testing.T) (*keys.Store, *ledger.Ledger, *clock.Fake) {
	t.Helper()
	le := ledgertest.Open(t)
	srv := httptest.NewServer(api.New(api.Options{Ledger: le.Ledger, Clock: le.Clock, Logger: le.Logger}).Handler())
	t.Cleanup(srv.Close)
	t.Setenv("TOLLGATE_SERVER", srv.URL)
	t.Setenv("TOLLGATE_API_KEY", le.RootKey)
	return le.Keys, le.Ledger, le.Clock
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := run(args...)
	if code != 0 {
		t.Fatalf("tollgatectl %s: exit %d: %s", strings.Join(args, " "), code, errOut)
	}
	return out
}

// TestAirgapCommandsAgainstRealServer: activation offline writes a key the
// device can open, activation key writes the next one, usage import prints
// the reconciliation, and a refusal exits non-zero with the server's code.
func TestAirgapCommandsAgainstRealServer(t *testing.T) {
	ks, _, clk := realServer(t)
	dir := t.TempDir()
	var ls wire.LicenseList
	mustRun(t, "customer", "create", "--id", "acme", "--name", "Acme", "--parent", "root")
	var u0 wire.CreateUserResponse
	if err := json.Unmarshal([]byte(mustRun(t, "user", "create", "--customer", "acme", "--email", "a@acme.test", "--role", "admin", "-o", "json")), &u0); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(mustRun(t, "license", "create", "--customer", "acme", "--type", "standard", "--billing", "days",
		"--days", "10", "--models", "*", "-o", "json")), &ls); err != nil || len(ls.Licenses) != 1 {
		t.Fatalf("license create: %v %+v", err, ls)
	}
	t.Setenv("TOLLGATE_API_KEY", u0.APIKey) // the customer operates its own licenses
	seed := sha256.Sum256([]byte("ctl air-gap device"))
	dk := ed25519.NewKeyFromSeed(seed[:])
	reqFile, keyFile := filepath.Join(dir, "site-1.req"), filepath.Join(dir, "site-1.key")
	f, err := airgap.SignActivationRequest(dk, &airgap.ActivationRequest{DeviceID: "site-1", Model: "sensor-a",
		PublicKey: token.EncodePublicKey(dk.Public().(ed25519.PublicKey)), CreatedAt: clk.Now().Unix()})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(reqFile, f, 0o644)
	out := mustRun(t, "activation", "offline", "--request", reqFile, "--license", ls.Licenses[0].ID, "--out", keyFile)
	if !strings.Contains(out, keyFile) || !strings.Contains(out, "site-1") {
		t.Fatalf("output does not say what it wrote: %q", out)
	}
	trust, _ := ks.Trust()
	st, err := os.Stat(keyFile)
	if err != nil || st.Mode().Perm() != 0o644 {
		t.Fatalf("key file: %v %v", st, err)
	}
	data, _ := os.ReadFile(keyFile)
	if k, err := airgap.OpenActivationKey(trust, data); err != nil || k.Seq != 1 || len(k.Tokens) != 1 {
		t.Fatalf("written key: %+v %v", k, err)
	}
	var w wire.ActivationKey
	if err := json.Unmarshal([]byte(mustRun(t, "activation", "key", "--device", "site-1", "--out", keyFile, "-o", "json")), &w); err != nil ||
		!w.ExpiresAt.Equal(w.IssuedAt.Add(airgap.KeyLifetime)) {
		t.Fatalf("activation key -o json: %+v %v", w, err)
	}
	data, _ = os.ReadFile(keyFile)
	if k, err := airgap.OpenActivationKey(trust, data); err != nil || k.Seq != 2 {
		t.Fatalf("fresh key: %+v %v", k, err)
	}
	signer, _ := token.NewSigner(dk)
	at := clk.Now().Add(-time.Hour)
	rep := &syncproto.Report{DeviceID: "site-1", Nonce: "AAAAAAAAAAAAAAAAAAAAAA", SentAt: clk.Now().Unix(), Tokens: []syncproto.TokenVersion{},
		Deductions: []syncproto.Deduction{{Seq: 1, LicenseID: ls.Licenses[0].ID, At: at.Unix(), PaidUntil: at.Add(24 * time.Hour).Unix(), DaysBefore: 10, DaysAfter: 9}},
		Counts:     []syncproto.HourlyCount{}}
	text, err := syncproto.SignReceipt(signer, rep)
	if err != nil {
		t.Fatal(err)
	}
	receipt, _ := airgap.Armor(token.KindUsageReceipt, text)
	recFile := filepath.Join(dir, "usage.receipt")
	os.WriteFile(recFile, receipt, 0o644)
	if out := mustRun(t, "usage", "import", recFile, "-o", "csv"); !strings.Contains(out, "DEVICE,DUPLICATE") || !strings.Contains(out, "site-1,false,1,0,1,1,-,0,0,0,0") {
		t.Fatalf("usage import csv: %q", out)
	}
	var u wire.UsageImport
	if err := json.Unmarshal([]byte(mustRun(t, "usage", "import", recFile, "-o", "json")), &u); err != nil || !u.Duplicate || u.AckedSeq != 1 {
		t.Fatalf("second import: %+v %v", u, err)
	}
	os.WriteFile(recFile, receipt[:len(receipt)-10], 0o644)
	if code, _, errOut := run("usage", "import", recFile); code == 0 || !strings.Contains(errOut, "malformed_file") {
		t.Fatalf("truncated receipt: exit %d %q", code, errOut)
	}
	checkInspect(t, dir, keyFile, reqFile, receipt, trust, dk)
}

// checkInspect: tollgatectl inspect works with no server and no API key,
// shows every air-gap kind and bare tokens, and says whether each verifies.
func checkInspect(t *testing.T, dir, keyFile, reqFile string, receipt []byte, trust *token.Trust, dk ed25519.PrivateKey) {
	t.Setenv("TOLLGATE_SERVER", "http://127.0.0.1:1")
	t.Setenv("TOLLGATE_API_KEY", "")
	trustFile, recFile := filepath.Join(dir, "trust.json"), filepath.Join(dir, "good.receipt")
	os.WriteFile(trustFile, token.MarshalTrustBundle(trust), 0o644)
	os.WriteFile(recFile, receipt, 0o644)
	pub := token.EncodePublicKey(dk.Public().(ed25519.PublicKey))
	keyData, _ := os.ReadFile(keyFile)
	k, _ := airgap.OpenActivationKey(trust, keyData)
	tests := []struct {
		name string
		args []string
		exit int
		want []string
	}{
		{"ok/key-verified", []string{"inspect", keyFile, "--trust", trustFile}, 0, []string{"activation_key", "signature valid", "[1] kind", "revocation_list", "expires_at"}},
		{"ok/key-unchecked", []string{"inspect", keyFile}, 0, []string{"not_checked", "no server key given"}},
		{"ok/global-flags-ignored", []string{"--server", "http://127.0.0.1:1", "inspect", keyFile, "--api-key", "x"}, 0, []string{"activation_key"}},
		{"ok/request-self-verified", []string{"inspect", reqFile}, 0, []string{"activation_request", "signature valid", "site-1"}},
		{"ok/receipt-with-key", []string{"inspect", recFile, "--public-key", pub, "-o", "json"}, 0, []string{`"kind": "usage_receipt"`, `"signature": "valid"`, `"deductions": [`}},
		{"ok/bare-token", []string{"inspect", k.Tokens[0], "--trust", trustFile}, 0, []string{"license", "signature valid", "site-1"}},
		{"error/receipt-other-key", []string{"inspect", recFile, "--public-key", token.EncodePublicKey(make(ed25519.PublicKey, 32))}, 1, []string{"invalid_public_key"}},
		{"error/not-a-document", []string{"inspect", trustFile}, 1, []string{"error: malformed_document:"}},
		{"error/no-file", []string{"inspect"}, 2, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := run(tt.args...)
			if code != tt.exit {
				t.Fatalf("exit %d, want %d: %s %s", code, tt.exit, out, errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(strings.Join(strings.Fields(out+errOut), " "), w) {
					t.Fatalf("output lacks %q:\n%s%s", w, out, errOut)
				}
			}
		})
	}
	// A receipt checked against another device's key: shown, then refused.
	other := sha256.Sum256([]byte("another device"))
	otherPub := token.EncodePublicKey(ed25519.NewKeyFromSeed(other[:]).Public().(ed25519.PublicKey))
	code, out, errOut := run("inspect", recFile, "--public-key", otherPub)
	if code != 1 || !strings.Contains(out, "usage_receipt") || !strings.Contains(errOut, "error: bad_signature:") {
		t.Fatalf("receipt with another key: exit %d %q %q", code, out, errOut)
	}
}
