package e2e

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/shared/token"
)

// localIssuer signs license tokens with a test key, for tests whose subject
// is not provisioning (TestScale, TestPatterns): no server runs.
type localIssuer struct {
	t      testing.TB
	signer *token.Signer
	// Trust is the trust bundle file agents are initialized with.
	Trust string
	now   time.Time
}

func seedKey(name string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("tollgate-e2e/" + name))
	return ed25519.NewKeyFromSeed(seed[:])
}

func newLocalIssuer(t testing.TB, dir string) *localIssuer {
	t.Helper()
	signer, err := token.NewSigner(seedKey("server"))
	if err != nil {
		t.Fatal(err)
	}
	trust, err := token.NewTrust(signer.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "trust.json")
	if err := os.WriteFile(file, token.MarshalTrustBundle(trust), 0o644); err != nil {
		t.Fatal(err)
	}
	return &localIssuer{t: t, signer: signer, Trust: file, now: wall.Now()}
}

// issue signs a term license n for dev (public key pub), models model,
// maxPerHour samples per hour (0: unlimited) enforced, valid a year.
func (li *localIssuer) issue(n int, dev string, pub ed25519.PublicKey, model string, maxPerHour int64) string {
	l := &token.License{
		LicenseID: fmt.Sprintf("%08x-0000-4000-8000-%012x", n, n), Serial: fmt.Sprintf("TG-E2E-%05d", n),
		CustomerID: "acme", DeviceID: dev, DeviceKey: token.Fingerprint(pub), Models: []string{model},
		Type: token.TypeStandard, Billing: token.BillingTerm, Enforcement: token.EnforcementEnforce, Features: []string{},
		MaxSamplesPerHour: maxPerHour,
		NotBefore:         li.now.Add(-time.Hour).Unix(), NotAfter: li.now.Add(365 * 24 * time.Hour).Unix(), Version: 1, IssuedAt: li.now.Unix(),
	}
	text, err := token.IssueLicense(li.signer, l)
	if err != nil {
		li.t.Fatal(err)
	}
	return text
}
