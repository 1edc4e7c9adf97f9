package airgap

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/tollgate-iot/tollgate/shared/limits"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// realKey is an activation key whose documents are real signed tokens.
func realKey(t testing.TB) (file []byte, trust *token.Trust, k *ActivationKey) {
	t.Helper()
	k, trust, signer := activationKey(t)
	devFP := token.Fingerprint(testKey("device").Public().(ed25519.PublicKey))
	lic, err := token.IssueLicense(signer, &token.License{LicenseID: "0b6f3d1e-9a4c-4f55-8d2e-1c3b5a7f9e01", Serial: "TG-7K2P",
		CustomerID: "acme", DeviceID: "pump-7", DeviceKey: devFP, Models: []string{"TG-*"}, Type: token.TypeStandard,
		Billing: token.BillingDays, MaxSamplesPerHour: 60, Enforcement: token.EnforcementEnforce, Features: []string{},
		NotBefore: 1795348800, NotAfter: 1795348800 + 400*86400, Days: 30, Version: 2, IssuedAt: 1795348800})
	if err != nil {
		t.Fatal(err)
	}
	rl, err := token.IssueRevocationList(signer, &token.RevocationList{DeviceID: "pump-7", Seq: 4, IssuedAt: 1795348800, NextUpdate: 1795348800 + 86400,
		RevokedLicenses: []string{}, SuspendedLicenses: []string{}, BlacklistedDevices: []string{}, SupersededLicenses: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	k.Tokens, k.RevocationList = []string{lic}, rl
	file, err = IssueActivationKey(signer, k)
	if err != nil {
		t.Fatal(err)
	}
	return file, trust, k
}

func receipt(t testing.TB) ([]byte, *token.Trust) {
	t.Helper()
	dev, _ := token.NewSigner(testKey("device"))
	r := &syncproto.Report{DeviceID: "pump-7", Nonce: "AAAAAAAAAAAAAAAAAAAAAA", SentAt: 1795352400, RevocationSeq: 4,
		Tokens: []syncproto.TokenVersion{}, Counts: []syncproto.HourlyCount{{DeviceID: "pump-7", Hour: 1795348800, Accepted: 40, Overage: 2}},
		Deductions: []syncproto.Deduction{{Seq: 1, LicenseID: "0b6f3d1e-9a4c-4f55-8d2e-1c3b5a7f9e01", At: 1795348900,
			PaidUntil: 1795348900 + 86400, DaysBefore: 30, DaysAfter: 29}}}
	f, err := SignUsageReceipt(dev, r)
	if err != nil {
		t.Fatal(err)
	}
	trust, _ := token.NewTrust(dev.PublicKey())
	return f, trust
}

func TestIssueSetsExpiry(t *testing.T) {
	_, _, k := realKey(t)
	if k.ExpiresAt != k.IssuedAt+int64(KeyLifetime.Seconds()) {
		t.Fatalf("expires_at %d, issued_at %d", k.ExpiresAt, k.IssuedAt)
	}
	if err := k.CheckKeyTime(k.ExpiresAt - 1); err != nil {
		t.Fatalf("a second before expiry: %v", err)
	}
	if err := k.CheckKeyTime(k.ExpiresAt); !errors.Is(err, ErrKeyExpired) {
		t.Fatalf("at expiry: %v", err)
	}
	if err := k.CheckKeyTime(1); err != nil {
		t.Fatalf("a clock far behind (1970) is no reason to refuse: %v", err)
	}
	bad := *k
	bad.ExpiresAt = bad.IssuedAt
	if err := bad.Validate(); !errors.Is(err, token.ErrMalformed) {
		t.Fatalf("expires_at = issued_at validated: %v", err)
	}
}

func TestUsageReceiptRoundTrip(t *testing.T) {
	f, trust := receipt(t)
	r, err := OpenUsageReceipt(trust, f)
	if err != nil {
		t.Fatal(err)
	}
	if r.DeviceID != "pump-7" || len(r.Deductions) != 1 || r.Counts[0].Accepted != 40 {
		t.Fatalf("opened %+v", r)
	}
	other, _ := token.NewTrust(testKey("other device").Public().(ed25519.PublicKey))
	if _, err := OpenUsageReceipt(other, f); !errors.Is(err, token.ErrUnknownKey) {
		t.Fatalf("receipt opened with another device's key: %v", err)
	}
	if _, err := OpenUsageReceipt(trust, mustRequest(t)); !errors.Is(err, token.ErrWrongKind) {
		t.Fatalf("request opened as a receipt: %v", err)
	}
}

func TestDescribe(t *testing.T) {
	keyFile, trust, k := realKey(t)
	rcpt, devTrust := receipt(t)
	stranger, _ := token.NewTrust(testKey("stranger").Public().(ed25519.PublicKey))
	tests := []struct {
		name     string
		data     []byte
		keys     Keys
		kind     string
		sig      string
		inner    int
		contains string // in the table summary
	}{
		{"ok/request-is-self-verifying", mustRequest(t), Keys{}, "activation_request", SigValid, 0, "TG-100"},
		{"ok/key-with-trust", keyFile, Keys{Server: trust}, "activation_key", SigValid, 2, "[2] serial"},
		{"ok/key-without-trust", keyFile, Keys{}, "activation_key", SigNotChecked, 2, "no server key given"},
		{"ok/key-with-another-trust", keyFile, Keys{Server: stranger}, "activation_key", SigInvalid, 2, "unknown signing key"},
		{"ok/receipt-with-device-key", rcpt, Keys{Device: devTrust}, "usage_receipt", SigValid, 0, "1..1"},
		{"ok/receipt-without-device-key", rcpt, Keys{Server: trust}, "usage_receipt", SigNotChecked, 0, "no device key given"},
		{"ok/bare-license-token", []byte(k.Tokens[0] + "\n"), Keys{Server: trust}, "license", SigValid, 0, "TG-7K2P"},
		{"ok/bare-revocation-list", []byte("  " + k.RevocationList), Keys{Server: trust}, "revocation_list", SigValid, 0, "next_update"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Describe(tt.data, tt.keys)
			if err != nil {
				t.Fatal(err)
			}
			if d.Kind != tt.kind || d.Signature != tt.sig || len(d.Documents) != tt.inner {
				t.Fatalf("described %s %s with %d documents", d.Kind, d.Signature, len(d.Documents))
			}
			var all []string
			for _, r := range d.Summary() {
				all = append(all, r[0]+"="+r[1])
			}
			if s := strings.Join(all, "\n"); !strings.Contains(s, tt.contains) {
				t.Fatalf("summary lacks %q:\n%s", tt.contains, s)
			}
			if _, err := json.Marshal(d); err != nil {
				t.Fatal(err)
			}
		})
	}
	// A request signed by another key than its own is described, as invalid.
	s, _ := token.NewSigner(testKey("other device"))
	p, _ := token.EncodePayload(request("device"))
	forgedText, _ := s.SignPayload(token.KindActivationRequest, p)
	forged, _ := Armor(token.KindActivationRequest, forgedText)
	if d, err := Describe(forged, Keys{}); err != nil || d.Signature != SigInvalid || !strings.Contains(d.SignatureNote, "not signed by its own") {
		t.Fatalf("forged request: %+v, %v", d, err)
	}
	// A flipped signature character: still decoded, signature invalid.
	kind, text, err := Dearmor(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	b := []byte(text)
	at := strings.LastIndexByte(text, '.') + 10
	b[at] = map[bool]byte{true: 'B', false: 'A'}[b[at] == 'A']
	flipped, _ := Armor(kind, string(b))
	if d, err := Describe(flipped, Keys{Server: trust}); err != nil || d.Signature != SigInvalid {
		t.Fatalf("flipped signature: %+v, %v", d, err)
	}
}

func TestDescribeRefusals(t *testing.T) {
	keyFile, trust, _ := realKey(t)
	big := make([]byte, limits.MaxAirgapFileBytes+1)
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"error/too-large", big, ErrFileTooLarge},
		{"error/truncated", keyFile[:len(keyFile)-10], ErrArmor},
		{"error/not-a-document", []byte("hello"), token.ErrMalformed},
		{"error/unknown-kind", []byte("tg1.zzz.abc.def.ghi"), token.ErrMalformed},
		{"error/bad-version", []byte("tg2.lic.abc.def.ghi"), token.ErrMalformed},
		{"error/empty", nil, token.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Describe(tt.data, Keys{Server: trust}); !errors.Is(err, tt.want) {
				t.Fatalf("Describe = %v, want %v", err, tt.want)
			}
		})
	}
}
