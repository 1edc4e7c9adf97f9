package token

import (
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"filippo.io/edwards25519"
)

func TestGoldenTrustBundle(t *testing.T) {
	got := string(MarshalTrustBundle(testTrust(t, "server", "previous server")))
	want := golden(t, "trust.json", strings.TrimSuffix(got, "\n"))
	if strings.TrimSuffix(got, "\n") != want {
		t.Fatalf("trust bundle bytes changed:\n%s", got)
	}
	tr, err := ParseTrustBundle([]byte(want))
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.IDs()) != 2 {
		t.Fatalf("parsed %d keys, want 2", len(tr.IDs()))
	}
}

// Small-order points of edwards25519 (libsodium's blocklist): the identity,
// the point of order 2, and points of order 4 and 8.
var smallOrder = []string{
	"0100000000000000000000000000000000000000000000000000000000000000", // identity, order 1
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // (0, -1), order 2
	"0000000000000000000000000000000000000000000000000000000000000080", // (sqrt(-1), 0) with sign bit, order 4
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05", // order 8
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a", // order 8
}

func TestSmallOrderFixturesAreSmallOrder(t *testing.T) {
	for _, h := range smallOrder {
		b, _ := hex.DecodeString(h)
		p, err := new(edwards25519.Point).SetBytes(b)
		if err != nil {
			t.Fatalf("%s is not a point: %v", h, err)
		}
		if new(edwards25519.Point).MultByCofactor(p).Equal(edwards25519.NewIdentityPoint()) != 1 {
			t.Fatalf("%s is not of small order", h)
		}
	}
}

func TestCheckPublicKey(t *testing.T) {
	good := testKey("server").Public().(ed25519.PublicKey)
	tests := []struct {
		name string
		key  []byte
		want error
	}{
		{"ok", good, nil},
		{"error/all-zero", make([]byte, 32), ErrWeakKey},
		{"error/short", good[:31], ErrWeakKey},
		{"error/long", append(append([]byte(nil), good...), 0), ErrWeakKey},
		{"error/not-on-curve", mustHex("0200000000000000000000000000000000000000000000000000000000000000"), ErrWeakKey},
		// y = p+1 encodes the identity non-canonically.
		{"error/non-canonical-encoding", mustHex("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"), ErrWeakKey},
	}
	for i, h := range smallOrder {
		tests = append(tests, struct {
			name string
			key  []byte
			want error
		}{"error/small-order-" + string(rune('0'+i)), mustHex(h), ErrWeakKey})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckPublicKey(tt.key)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("CheckPublicKey = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestParseTrustBundle(t *testing.T) {
	good := testKey("server").Public().(ed25519.PublicKey)
	entry := func(id string, key []byte) string {
		return `{"id":"` + id + `","public_key":"` + enc(key) + `"}`
	}
	bundle := func(entries ...string) string {
		return `{"version":1,"keys":[` + strings.Join(entries, ",") + `]}`
	}
	zero := make([]byte, 32)
	order8 := mustHex(smallOrder[3])
	tests := []struct {
		name string
		data string
		want error
	}{
		{"ok", bundle(entry(KeyID(good), good)), nil},
		{"ok/whitespace", "\n " + bundle(entry(KeyID(good), good)) + "\n", nil},
		{"error/all-zero-key", bundle(entry(KeyID(zero), zero)), ErrWeakKey},
		{"error/small-order-key", bundle(entry(KeyID(order8), order8)), ErrWeakKey},
		{"error/id-mismatch", bundle(entry("0000000000000000", good)), ErrMalformed},
		{"error/duplicate-key", bundle(entry(KeyID(good), good), entry(KeyID(good), good)), ErrMalformed},
		{"error/empty", bundle(), ErrMalformed},
		{"error/unknown-field", `{"version":1,"extra":0,"keys":[` + entry(KeyID(good), good) + `]}`, ErrMalformed},
		{"error/duplicate-json-key", `{"version":1,"version":1,"keys":[` + entry(KeyID(good), good) + `]}`, ErrMalformed},
		{"error/case-variant-json-key", `{"version":1,"Version":1,"keys":[` + entry(KeyID(good), good) + `]}`, ErrMalformed},
		{"error/trailing-data", bundle(entry(KeyID(good), good)) + "]", ErrMalformed},
		{"error/version-2", `{"version":2,"keys":[` + entry(KeyID(good), good) + `]}`, ErrUnsupportedVersion},
		{"error/padded-key", `{"version":1,"keys":[{"id":"` + KeyID(good) + `","public_key":"` + enc(good) + `="}]}`, ErrMalformed},
		{"error/too-large", strings.Repeat(" ", 65<<10) + bundle(entry(KeyID(good), good)), ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseTrustBundle([]byte(tt.data))
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("ParseTrustBundle = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestNewSignerRefusesBadKey(t *testing.T) {
	if _, err := NewSigner(make([]byte, 10)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("NewSigner(short) = %v", err)
	}
	s := testSigner(t, "server")
	if strings.Contains(s.String(), hex.EncodeToString(testKey("server").Seed())) {
		t.Fatal("Signer.String prints the private key")
	}
}

func mustHex(h string) []byte {
	b, err := hex.DecodeString(h)
	if err != nil {
		panic(err)
	}
	return b
}
