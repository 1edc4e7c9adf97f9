package token

import (
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/shared/clock"
)

// BenchmarkEd25519VerifyRaw is the floor that BenchmarkVerifyLicense is
// measured against: one plain ed25519.Verify over the same payload bytes.
func BenchmarkEd25519VerifyRaw(b *testing.B) {
	priv := testKey("server")
	pub := priv.Public().(ed25519.PublicKey)
	payload, _ := encodeCanonical(goldenLicense())
	sig := ed25519.Sign(priv, payload)
	b.ReportAllocs()
	for b.Loop() {
		if !ed25519.Verify(pub, payload, sig) {
			b.Fatal("verify failed")
		}
	}
}

// BenchmarkVerifyLicense is a full license token Parse+Verify: text checks,
// base64, Ed25519ctx verification, canonical JSON decode, field validation
// and the validity window.
func BenchmarkVerifyLicense(b *testing.B) {
	text, err := IssueLicense(testSigner(b, "server"), goldenLicense())
	if err != nil {
		b.Fatal(err)
	}
	trust := testTrust(b, "server")
	b.ReportAllocs()
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		if _, err := Verify(trust, text, inWindow); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIssueLicense is the server's cost to sign one token.
func BenchmarkIssueLicense(b *testing.B) {
	s := testSigner(b, "server")
	l := goldenLicense()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := IssueLicense(s, l); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseRevocationList1000 verifies a list of 1,000 revoked licenses.
func BenchmarkParseRevocationList1000(b *testing.B) {
	r := goldenRevocation()
	r.RevokedLicenses = nil
	for i := 0; i < 1000; i++ {
		r.RevokedLicenses = append(r.RevokedLicenses, fakeUUID(i))
	}
	text, err := IssueRevocationList(testSigner(b, "server"), r)
	if err != nil {
		b.Fatal(err)
	}
	trust := testTrust(b, "server")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseRevocationList(trust, text); err != nil {
			b.Fatal(err)
		}
	}
}

func fakeUUID(i int) string {
	const hexd = "0123456789abcdef"
	b := []byte("00000000-0000-4000-8000-000000000000")
	for pos := len(b) - 1; i > 0; pos-- {
		b[pos] = hexd[i%16]
		i /= 16
	}
	return string(b)
}

// BenchmarkVerifyLicenseVsRaw interleaves one raw ed25519.Verify and one full
// license Parse+Verify per iteration and reports their ratio, so that load
// that comes and goes on the machine weighs on both sides alike.
func BenchmarkVerifyLicenseVsRaw(b *testing.B) {
	priv := testKey("server")
	pub := priv.Public().(ed25519.PublicKey)
	payload, _ := encodeCanonical(goldenLicense())
	sig := ed25519.Sign(priv, payload)
	text, err := IssueLicense(testSigner(b, "server"), goldenLicense())
	if err != nil {
		b.Fatal(err)
	}
	trust := testTrust(b, "server")
	wall := clock.Real{}
	var raw, full time.Duration
	for b.Loop() {
		t0 := wall.Now()
		if !ed25519.Verify(pub, payload, sig) {
			b.Fatal("verify failed")
		}
		t1 := wall.Now()
		if _, err := Verify(trust, text, inWindow); err != nil {
			b.Fatal(err)
		}
		t2 := wall.Now()
		raw += t1.Sub(t0)
		full += t2.Sub(t1)
	}
	b.ReportMetric(float64(raw.Nanoseconds())/float64(b.N), "raw_ns")
	b.ReportMetric(float64(full.Nanoseconds())/float64(b.N), "full_ns")
	b.ReportMetric(float64(full)/float64(raw), "ratio")
}
