package redeem

import (
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"

	"github.com/tollgate-iot/tollgate/shared/airgap"
	"github.com/tollgate-iot/tollgate/shared/token"
)

func deviceKey(t testing.TB, seed byte) ed25519.PrivateKey {
	t.Helper()
	s := make([]byte, ed25519.SeedSize)
	for i := range s {
		s[i] = seed + byte(i)
	}
	return ed25519.NewKeyFromSeed(s)
}

func request(priv ed25519.PrivateKey, code string) *Request {
	return &Request{DeviceID: "dev-1", Model: "TG-100", PublicKey: token.EncodePublicKey(priv.Public().(ed25519.PublicKey)),
		CreatedAt: 1_773_000_000, Nonce: "AAAAAAAAAAAAAAAAAAAAAA", Code: code}
}

func signed(t testing.TB, code string) string {
	t.Helper()
	priv := deviceKey(t, 1)
	text, err := Sign(priv, request(priv, code))
	if err != nil {
		t.Fatal(err)
	}
	return text
}

func TestRequestRoundTrip(t *testing.T) {
	text := signed(t, "TG-ABCD-1234")
	r, err := Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	if r.Code != "TG-ABCD-1234" || r.DeviceID != "dev-1" || r.IsEnrollment() {
		t.Fatalf("parsed %+v", r)
	}
	if a := r.Activation(); a.Model != "TG-100" || a.CreatedAt != 1_773_000_000 {
		t.Fatalf("activation part %+v", a)
	}
}

func TestRequestRefusals(t *testing.T) {
	priv, other := deviceKey(t, 1), deviceKey(t, 2)
	good := signed(t, "TG-ABCD-1234")
	// Another device's key signing a request that carries this device's key.
	s, _ := token.NewSigner(other)
	p, _ := token.EncodePayload(request(priv, "TG-ABCD-1234"))
	foreign, _ := s.SignPayload(token.KindActivationRequest, p)
	// An offline activation request is not an online one.
	off, _ := airgap.SignActivationRequest(priv, request(priv, "x").Activation())
	_, offText, _ := airgap.Dearmor(off)
	for name, tc := range map[string]struct {
		text string
		want error
	}{
		"error/other_key_signed": {foreign, airgap.ErrNotSelfSigned},
		"error/offline_request":  {offText, token.ErrMalformed},
		"error/truncated":        {good[:len(good)-3], token.ErrMalformed},
		"error/too_large":        {good + strings.Repeat("A", MaxRequestBytes), token.ErrTooLarge},
		"error/empty":            {"", token.ErrMalformed},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Parse(tc.text); !errors.Is(err, tc.want) {
				t.Fatalf("Parse = %v, want %v", err, tc.want)
			}
		})
	}
	for name, mod := range map[string]func(*Request){
		"error/no_code":      func(r *Request) { r.Code = "" },
		"error/code_space":   func(r *Request) { r.Code = "TG ABCD" },
		"error/code_long":    func(r *Request) { r.Code = strings.Repeat("A", MaxCodeLen+1) },
		"error/short_nonce":  func(r *Request) { r.Nonce = "abc" },
		"error/nonce_chars":  func(r *Request) { r.Nonce = "AAAAAAAAAAAAAAAAAAAAA=" },
		"error/device_slash": func(r *Request) { r.DeviceID = "a/b" },
	} {
		t.Run(name, func(t *testing.T) {
			r := request(priv, "TG-ABCD-1234")
			mod(r)
			if _, err := Sign(priv, r); err == nil {
				t.Fatal("signed an invalid request")
			}
		})
	}
}

func TestNormalizeCode(t *testing.T) {
	for in, want := range map[string]string{
		" tg-abcd-1234\n": "TG-ABCD-1234",
		"tge_AbC-d_":      "tge_AbC-d_",
	} {
		if got := NormalizeCode(in); got != want {
			t.Errorf("NormalizeCode(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzParse: nothing panics; anything accepted validates and was signed by
// the key it carries.
func FuzzParse(f *testing.F) {
	good := signed(f, "TG-ABCD-1234")
	f.Add(good)
	f.Add(signed(f, EnrollmentPrefix+strings.Repeat("x", 43)))
	f.Add(good[:len(good)/2])
	f.Add("tg1.req.e30.AAAA.k")
	f.Fuzz(func(t *testing.T, text string) {
		r, err := Parse(text)
		if err != nil {
			return
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("accepted invalid request: %v", err)
		}
		pub, _ := token.ParsePublicKey(r.PublicKey)
		trust, _ := token.NewTrust(pub)
		if _, err := token.Open(trust, token.KindActivationRequest, text); err != nil {
			t.Fatalf("accepted a request its key does not verify: %v", err)
		}
	})
}

// BenchmarkParse is the server's cost of one request before the ledger:
// decode and one Ed25519 verification (the guard runs before it, so a
// flood is throttled before paying it).
func BenchmarkParse(b *testing.B) {
	text := signed(b, "TG-ABCD-1234")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(text); err != nil {
			b.Fatal(err)
		}
	}
}
