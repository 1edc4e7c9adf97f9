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
	mustRun(t, "activation", "key", "--device", "site-1", "--out", keyFile, "-o", "json")
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
}
