package airgap

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"

	"github.com/tollgate-iot/tollgate/shared/limits"
	"github.com/tollgate-iot/tollgate/shared/token"
)

func testKey(name string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("airgap test key: " + name))
	return ed25519.NewKeyFromSeed(seed[:])
}

func pubText(name string) string {
	return token.EncodePublicKey(testKey(name).Public().(ed25519.PublicKey))
}

func request(name string) *ActivationRequest {
	return &ActivationRequest{DeviceID: "pump-7", Model: "TG-100", PublicKey: pubText(name), CreatedAt: 1795348800}
}

func mustRequest(t testing.TB) []byte {
	t.Helper()
	f, err := SignActivationRequest(testKey("device"), request("device"))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestActivationRequestRoundTrip(t *testing.T) {
	f := mustRequest(t)
	if !bytes.HasPrefix(f, []byte("-----BEGIN TOLLGATE ACTIVATION REQUEST-----\n")) || !bytes.HasSuffix(f, []byte("-----END TOLLGATE ACTIVATION REQUEST-----\n")) {
		t.Fatalf("file frame:\n%s", f)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(f)), "\n") {
		if len(line) > 64 {
			t.Fatalf("line of %d characters", len(line))
		}
	}
	r, err := ParseActivationRequest(f)
	if err != nil {
		t.Fatal(err)
	}
	if *r != *request("device") {
		t.Fatalf("parsed %+v", r)
	}
	crlf := bytes.ReplaceAll(f, []byte("\n"), []byte("\r\n"))
	if _, err := ParseActivationRequest(crlf); err != nil {
		t.Fatalf("CRLF file refused: %v", err)
	}
}

func TestActivationRequestRefusals(t *testing.T) {
	good := mustRequest(t)
	// A request carrying device A's key but signed by device B's key.
	s, _ := token.NewSigner(testKey("other device"))
	p, _ := token.EncodePayload(request("device"))
	forgedText, _ := s.SignPayload(token.KindActivationRequest, p)
	forged, _ := Armor(token.KindActivationRequest, forgedText)
	// The same, relabelled with device A's key id.
	parts := strings.Split(forgedText, ".")
	parts[2] = token.KeyID(testKey("device").Public().(ed25519.PublicKey))
	relabelled, _ := Armor(token.KindActivationRequest, strings.Join(parts, "."))
	// Signing with a key that is not the request's own is refused up front.
	if _, err := SignActivationRequest(testKey("other device"), request("device")); !errors.Is(err, ErrNotSelfSigned) {
		t.Fatalf("SignActivationRequest with a foreign key = %v", err)
	}
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"error/signed-by-another-device", forged, ErrNotSelfSigned},
		{"error/relabelled-key-id", relabelled, token.ErrBadSignature},
		{"error/truncated", good[:len(good)-20], ErrArmor},
		{"error/no-final-newline", good[:len(good)-1], ErrArmor},
		{"error/over-size-cap", append(bytes.Repeat([]byte("A"), limits.MaxAirgapFileBytes), good...), ErrFileTooLarge},
		{"error/mixed-line-endings", bytes.Replace(good, []byte("\n"), []byte("\r\n"), 1), ErrArmor},
		{"error/activation-key-label", bytes.ReplaceAll(good, []byte("ACTIVATION REQUEST"), []byte("ACTIVATION KEY")), token.ErrWrongKind},
		{"error/unknown-label", bytes.ReplaceAll(good, []byte("ACTIVATION REQUEST"), []byte("SOMETHING")), ErrArmor},
		{"error/empty", nil, ErrArmor},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParseActivationRequest(tt.data); !errors.Is(err, tt.want) {
				t.Fatalf("ParseActivationRequest = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestEveryFlippedByteIsRefused flips each byte of an activation request
// file in turn: every variant is refused, none panics.
func TestEveryFlippedByteIsRefused(t *testing.T) {
	good := mustRequest(t)
	for i := range good {
		bad := append([]byte(nil), good...)
		bad[i] ^= 0x01
		if _, err := ParseActivationRequest(bad); err == nil {
			t.Fatalf("flipping byte %d (%q) still parses", i, good[i])
		}
	}
}

func activationKey(t testing.TB) (*ActivationKey, *token.Trust, *token.Signer) {
	t.Helper()
	signer, err := token.NewSigner(testKey("server"))
	if err != nil {
		t.Fatal(err)
	}
	trust, _ := token.NewTrust(signer.PublicKey())
	return &ActivationKey{
		DeviceID: "pump-7", DeviceKey: token.Fingerprint(testKey("device").Public().(ed25519.PublicKey)), Seq: 3,
		TrustFingerprint: TrustFingerprint(trust), Tokens: []string{"tg1.lic.x"}, RevocationList: "tg1.rev.y",
		IssuedAt: 1795348800, AckedSeq: 12,
	}, trust, signer
}

func TestActivationKeyRoundTripAndRefusals(t *testing.T) {
	k, trust, signer := activationKey(t)
	f, err := IssueActivationKey(signer, k)
	if err != nil {
		t.Fatal(err)
	}
	got, err := OpenActivationKey(trust, f)
	if err != nil {
		t.Fatal(err)
	}
	if got.Seq != 3 || got.DeviceID != "pump-7" || len(got.Tokens) != 1 || got.AckedSeq != 12 {
		t.Fatalf("opened %+v", got)
	}
	stranger, _ := token.NewSigner(testKey("stranger"))
	foreign, _ := IssueActivationKey(stranger, k)
	req := mustRequest(t)
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"error/unknown-signer", foreign, token.ErrUnknownKey},
		{"error/request-instead-of-key", req, token.ErrWrongKind},
		{"error/truncated", f[:len(f)/2], ErrArmor},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := OpenActivationKey(trust, tt.data); !errors.Is(err, tt.want) {
				t.Fatalf("OpenActivationKey = %v, want %v", err, tt.want)
			}
		})
	}
	bad := *k
	bad.Seq = 0
	if _, err := IssueActivationKey(signer, &bad); !errors.Is(err, token.ErrMalformed) {
		t.Fatalf("seq 0 issued: %v", err)
	}
	bad = *k
	bad.AckedSeq = -1
	if _, err := IssueActivationKey(signer, &bad); !errors.Is(err, token.ErrMalformed) {
		t.Fatalf("negative acked_seq issued: %v", err)
	}
}

func TestTrustFingerprintIgnoresOrder(t *testing.T) {
	a := testKey("a").Public().(ed25519.PublicKey)
	b := testKey("b").Public().(ed25519.PublicKey)
	t1, _ := token.NewTrust(a, b)
	t2, _ := token.NewTrust(b, a)
	t3, _ := token.NewTrust(a)
	if TrustFingerprint(t1) != TrustFingerprint(t2) || TrustFingerprint(t1) == TrustFingerprint(t3) {
		t.Fatal("trust fingerprint depends on order or ignores keys")
	}
}
