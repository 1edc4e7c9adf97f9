package token

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/shared/limits"
)

func TestGoldenLicenseVerifies(t *testing.T) {
	text, err := IssueLicense(testSigner(t, "server"), goldenLicense())
	if err != nil {
		t.Fatal(err)
	}
	want := golden(t, "license.tok", text)
	if text != want {
		t.Fatalf("issuing the golden license changed its bytes:\n got %s\nwant %s", text, want)
	}
	trust, err := ParseTrustBundle(mustRead(t, "testdata/trust.json"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := Verify(trust, want, inWindow)
	if err != nil {
		t.Fatalf("golden token does not verify: %v", err)
	}
	if l.LicenseID != goldenLicense().LicenseID || l.Version != 3 || l.Days != 30 {
		t.Fatalf("golden token decoded to %+v", l)
	}
}

// mutate returns the golden token with its decoded payload changed by f and
// re-signed by the server key (so only the payload's own rules can refuse it).
func resigned(t *testing.T, f func(string) string) string {
	t.Helper()
	p, err := encodeCanonical(goldenLicense())
	if err != nil {
		t.Fatal(err)
	}
	return signRaw(t, KindLicense, f(string(p)))
}

func withLicense(t *testing.T, f func(*License)) string {
	t.Helper()
	l := goldenLicense()
	f(l)
	p, err := encodeCanonical(l)
	if err != nil {
		t.Fatal(err)
	}
	return signRaw(t, KindLicense, string(p))
}

func TestVerifyLicense(t *testing.T) {
	trust := testTrust(t, "server", "previous server")
	good, err := IssueLicense(testSigner(t, "server"), goldenLicense())
	if err != nil {
		t.Fatal(err)
	}
	parts := splitToken(t, good)
	payload, _ := base64.RawURLEncoding.DecodeString(parts[3])
	sig, _ := base64.RawURLEncoding.DecodeString(parts[4])
	join := func(p ...string) string { return strings.Join(p, ".") }

	flippedPayload := append([]byte(nil), payload...)
	flippedPayload[len(flippedPayload)/2] ^= 0x01
	flippedSig := append([]byte(nil), sig...)
	flippedSig[5] ^= 0x80

	// S + L is the same signature in a non-canonical scalar (malleability).
	sPlusL := append([]byte(nil), sig...)
	s := new(big.Int).SetBytes(reverse(sig[32:]))
	l, _ := new(big.Int).SetString("7237005577332262213973186563042994240857116359379907606001950938285454250989", 10)
	copy(sPlusL[32:], reverse(leftPad(s.Add(s, l).Bytes(), 32)))

	p, _ := encodeCanonical(goldenLicense())
	otherKindSig, _ := testKey("server").Sign(nil, p, &ed25519.Options{Context: kinds[KindRevocation].context})
	pureSig := ed25519.Sign(testKey("server"), p)
	revocation, _ := IssueRevocationList(testSigner(t, "server"), goldenRevocation())

	// Non-canonical base64: the last payload character carries stray low bits.
	lastFlip := []byte(parts[3])
	lastFlip[len(lastFlip)-1] = stray(lastFlip[len(lastFlip)-1], len(payload))

	tests := []struct {
		name string
		text string
		now  time.Time
		want error
	}{
		{"ok", good, inWindow, nil},
		{"ok/previous-key", withSigner(t, "previous server"), inWindow, nil},
		{"ok/first-second", good, goldenNotBefore, nil},
		{"ok/max-version", withLicense(t, func(l *License) { l.Version = limits.MaxLicenseVersion }), inWindow, nil},
		{"error/flipped-payload-byte", join(parts[0], parts[1], parts[2], enc(flippedPayload), parts[4]), inWindow, ErrBadSignature},
		{"error/flipped-signature-byte", join(parts[0], parts[1], parts[2], parts[3], enc(flippedSig)), inWindow, ErrBadSignature},
		{"error/non-canonical-signature-s-ge-l", join(parts[0], parts[1], parts[2], parts[3], enc(sPlusL)), inWindow, ErrBadSignature},
		{"error/unknown-key-id", withSigner(t, "stranger"), inWindow, ErrUnknownKey},
		{"error/key-id-of-other-trusted-key", join(parts[0], parts[1], KeyID(testKey("previous server").Public().(ed25519.PublicKey)), parts[3], parts[4]), inWindow, ErrBadSignature},
		{"error/signature-for-other-kind", join(parts[0], parts[1], parts[2], parts[3], enc(otherKindSig)), inWindow, ErrBadSignature},
		{"error/pure-ed25519-signature", join(parts[0], parts[1], parts[2], parts[3], enc(pureSig)), inWindow, ErrBadSignature},
		{"error/other-kind-document", revocation, inWindow, ErrWrongKind},
		{"error/duplicate-key", resigned(t, func(p string) string { return strings.Replace(p, `{"license_id":`, `{"days":999,"license_id":`, 1) }), inWindow, ErrMalformed},
		{"error/duplicate-key-same-value", resigned(t, func(p string) string { return strings.Replace(p, `"days":30,`, `"days":30,"days":30,`, 1) }), inWindow, ErrMalformed},
		{"error/case-variant-key", resigned(t, func(p string) string { return strings.Replace(p, `"days":`, `"Days":`, 1) }), inWindow, ErrMalformed},
		{"error/unknown-field", resigned(t, func(p string) string { return strings.Replace(p, `{`, `{"admin":true,`, 1) }), inWindow, ErrMalformed},
		{"error/missing-field", resigned(t, func(p string) string { return strings.Replace(p, `"days":30,`, ``, 1) }), inWindow, ErrMalformed},
		{"error/whitespace-in-payload", resigned(t, func(p string) string { return strings.Replace(p, `,"days"`, `, "days"`, 1) }), inWindow, ErrMalformed},
		{"error/trailing-bytes-in-payload", resigned(t, func(p string) string { return p + " " }), inWindow, ErrMalformed},
		{"error/trailing-json-in-payload", resigned(t, func(p string) string { return p + "{}" }), inWindow, ErrMalformed},
		{"error/trailing-bytes-after-token", good + "AA", inWindow, ErrMalformed},
		{"error/trailing-field-after-token", good + ".x", inWindow, ErrMalformed},
		{"error/trailing-newline", good + "\n", inWindow, ErrMalformed},
		{"error/non-canonical-base64-stray-bits", join(parts[0], parts[1], parts[2], string(lastFlip), parts[4]), inWindow, ErrMalformed},
		{"error/base64-padding", join(parts[0], parts[1], parts[2], base64.URLEncoding.EncodeToString(payload), parts[4]), inWindow, ErrMalformed},
		{"error/std-base64-alphabet", join(parts[0], parts[1], parts[2], "+"+parts[3][1:], parts[4]), inWindow, ErrMalformed},
		{"error/newline-inside-base64", join(parts[0], parts[1], parts[2], parts[3][:10]+"\n"+parts[3][10:], parts[4]), inWindow, ErrMalformed},
		{"error/over-size-cap", join(parts[0], parts[1], parts[2], strings.Repeat("A", limits.MaxLicenseTokenBytes), parts[4]), inWindow, ErrTooLarge},
		{"error/truncated", good[:len(good)-1], inWindow, ErrMalformed},
		{"error/truncated-to-three-fields", join(parts[0], parts[1], parts[2]), inWindow, ErrMalformed},
		{"error/empty", "", inWindow, ErrMalformed},
		{"error/expired", good, goldenNotAfter, ErrExpired},
		{"error/not-yet-valid", good, goldenNotBefore.Add(-time.Second), ErrNotYetValid},
		{"error/license-version-0", withLicense(t, func(l *License) { l.Version = 0 }), inWindow, ErrMalformed},
		{"error/license-version-above-max", withLicense(t, func(l *License) { l.Version = limits.MaxLicenseVersion + 1 }), inWindow, ErrMalformed},
		{"error/format-version-0", "tg0" + strings.TrimPrefix(good, "tg1"), inWindow, ErrUnsupportedVersion},
		{"error/format-version-max", fmt.Sprintf("tg%d", uint64(1<<64-1)) + strings.TrimPrefix(good, "tg1"), inWindow, ErrUnsupportedVersion},
		{"error/format-version-2", "tg2" + strings.TrimPrefix(good, "tg1"), inWindow, ErrUnsupportedVersion},
		{"error/uppercase-key-id", join(parts[0], parts[1], strings.ToUpper(parts[2]), parts[3], parts[4]), inWindow, ErrMalformed},
		{"error/bad-field/term-with-days", withLicense(t, func(l *License) { l.Billing = BillingTerm }), inWindow, ErrMalformed},
		{"error/bad-field/device-id-with-slash", withLicense(t, func(l *License) { l.DeviceID = "a/b" }), inWindow, ErrMalformed},
		{"error/bad-field/null-models", withLicense(t, func(l *License) { l.Models = nil }), inWindow, ErrMalformed},
		{"error/bad-field/empty-window", withLicense(t, func(l *License) { l.NotAfter = l.NotBefore }), inWindow, ErrMalformed},
		{"error/bad-field/unsorted-features", withLicense(t, func(l *License) { l.Features = []string{"b", "a"} }), inWindow, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := Verify(trust, tt.text, tt.now)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Verify = %v, want success", err)
				}
				if l.DeviceID != "pump-0042" {
					t.Fatalf("decoded device %q", l.DeviceID)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify error = %v, want %v", err, tt.want)
			}
			if l != nil {
				t.Fatal("Verify returned a license along with an error")
			}
		})
	}
}

// TestVerifyEveryTruncation cuts the golden token at every length: each prefix
// is refused as malformed or badly signed, and none panics.
func TestVerifyEveryTruncation(t *testing.T) {
	trust := testTrust(t, "server")
	good, _ := IssueLicense(testSigner(t, "server"), goldenLicense())
	for n := 0; n < len(good); n++ {
		_, err := Verify(trust, good[:n], inWindow)
		if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrBadSignature) {
			t.Fatalf("prefix of %d bytes: err = %v", n, err)
		}
	}
}

func TestMalformedErrorsNameTheProblem(t *testing.T) {
	trust := testTrust(t, "server")
	tests := []struct {
		name, text, mention string
	}{
		{"duplicate", resigned(t, func(p string) string { return strings.Replace(p, `"days":30,`, `"days":30,"days":30,`, 1) }), `duplicate key "days"`},
		{"case-variant", resigned(t, func(p string) string { return strings.Replace(p, `"days":`, `"Days":`, 1) }), `"Days" must be spelled "days"`},
		{"whitespace", resigned(t, func(p string) string { return strings.Replace(p, `,"days"`, `, "days"`, 1) }), "whitespace"},
		{"trailing", resigned(t, func(p string) string { return p + "{}" }), "trailing data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Verify(trust, tt.text, inWindow)
			if err == nil || !strings.Contains(err.Error(), tt.mention) {
				t.Fatalf("error %v does not mention %q", err, tt.mention)
			}
		})
	}
}

func TestIssueRefusesInvalidLicense(t *testing.T) {
	l := goldenLicense()
	l.Enforcement = "maybe"
	if _, err := IssueLicense(testSigner(t, "server"), l); !errors.Is(err, ErrMalformed) {
		t.Fatalf("IssueLicense = %v, want ErrMalformed", err)
	}
}

func withSigner(t *testing.T, name string) string {
	t.Helper()
	text, err := IssueLicense(testSigner(t, name), goldenLicense())
	if err != nil {
		t.Fatal(err)
	}
	return text
}

func reverse(b []byte) []byte {
	out := make([]byte, len(b))
	for i := range b {
		out[len(b)-1-i] = b[i]
	}
	return out
}

func leftPad(b []byte, n int) []byte {
	return append(make([]byte, n-len(b)), b...)
}

// stray returns the base64url character c with its unused low bits set, for
// the last character of an encoding of n bytes.
func stray(c byte, n int) byte {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	if n%3 == 0 {
		panic("payload length leaves no spare bits; change the golden license")
	}
	// One or two trailing bytes leave 4 or 2 spare bits in the last
	// character; flipping the lowest one keeps the decoded bytes.
	return alphabet[strings.IndexByte(alphabet, c)^1]
}
