// Package testkit holds what the agent's tests share: a deterministic
// server signing key, license and revocation-list factories, and short
// names for the real MQTT brokers and the telemetry sink of
// internal/testkit/brokers (embedded NATS in process, Mosquitto as a child
// process). It is imported only from _test files.
package testkit

import (
	"crypto/ed25519"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/shared/token"
)

// Epoch is the fake "now" most tests start at.
var Epoch = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// Key returns a deterministic Ed25519 key named name.
func Key(name string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("tollgate agent test key: " + name))
	return ed25519.NewKeyFromSeed(seed[:])
}

// Pub returns the public half of Key(name).
func Pub(name string) ed25519.PublicKey { return Key(name).Public().(ed25519.PublicKey) }

// Signer returns the test server's signer.
func Signer(t testing.TB) *token.Signer {
	t.Helper()
	s, err := token.NewSigner(Key("server"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Trust returns the trust holding the test server's key.
func Trust(t testing.TB) *token.Trust {
	t.Helper()
	tr, err := token.NewTrust(Pub("server"))
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// TrustBundle returns the trust bundle file of Trust.
func TrustBundle(t testing.TB) []byte { return token.MarshalTrustBundle(Trust(t)) }

// License returns a valid term license for device with key pub, model
// range TG-*, 100 samples/hour enforced, valid a year around Epoch; mod
// edits it before signing.
func License(t testing.TB, device string, pub ed25519.PublicKey, mod func(*token.License)) (*token.License, string) {
	t.Helper()
	l := &token.License{
		LicenseID:         "6f1c2a7e-0b3d-4e5f-8a9b-0c1d2e3f4a5b",
		Serial:            "TG-TEST-0001",
		CustomerID:        "acme",
		DeviceID:          device,
		DeviceKey:         token.Fingerprint(pub),
		Models:            []string{"TG-*"},
		Type:              token.TypeStandard,
		Billing:           token.BillingTerm,
		MaxSamplesPerHour: 100,
		Enforcement:       token.EnforcementEnforce,
		Features:          []string{},
		NotBefore:         Epoch.Add(-30 * 24 * time.Hour).Unix(),
		NotAfter:          Epoch.Add(365 * 24 * time.Hour).Unix(),
		Version:           1,
		IssuedAt:          Epoch.Add(-time.Hour).Unix(),
	}
	if mod != nil {
		mod(l)
	}
	text, err := token.IssueLicense(Signer(t), l)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := token.ParseLicense(Trust(t), text)
	if err != nil {
		t.Fatal(err)
	}
	return parsed, text
}

// RevocationDevice is the device Revocation signs lists for: the device
// id the agent tests initialise with.
const RevocationDevice = "pump-1"

// Revocation returns a revocation list signed for RevocationDevice, issued
// at Epoch.
func Revocation(t testing.TB, seq int64, revoked, suspended, blacklisted []string) (*token.RevocationList, string) {
	t.Helper()
	return RevocationFor(t, RevocationDevice, seq, revoked, suspended, blacklisted)
}

// RevocationFor returns a revocation list signed for device, issued at
// Epoch.
func RevocationFor(t testing.TB, device string, seq int64, revoked, suspended, blacklisted []string) (*token.RevocationList, string) {
	t.Helper()
	r := &token.RevocationList{
		DeviceID: device, Seq: seq, IssuedAt: Epoch.Unix(), NextUpdate: Epoch.Add(24 * time.Hour).Unix(),
		RevokedLicenses: revoked, SuspendedLicenses: suspended, BlacklistedDevices: blacklisted,
	}
	text, err := token.IssueRevocationList(Signer(t), r)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := token.ParseRevocationList(Trust(t), text)
	if err != nil {
		t.Fatal(err)
	}
	return parsed, text
}
