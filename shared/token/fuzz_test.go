package token

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// FuzzParseLicense feeds arbitrary text to the license token parser. Nothing
// may panic, and anything accepted must be exactly what issuing its decoded
// license gives (Ed25519 signatures are deterministic).
func FuzzParseLicense(f *testing.F) {
	good, _ := IssueLicense(testSigner(f, "server"), goldenLicense())
	rev, _ := IssueRevocationList(testSigner(f, "server"), goldenRevocation())
	for _, s := range []string{good, rev, good[:len(good)/2], good + "AA", "tg0" + good[3:], "", "tg1.lic.", strings.Repeat(".", 5)} {
		f.Add(s)
	}
	trust := testTrust(f, "server")
	signer := testSigner(f, "server")
	f.Fuzz(func(t *testing.T, text string) {
		l, err := Verify(trust, text, inWindow)
		if err != nil {
			if l != nil {
				t.Fatal("license returned with an error")
			}
			return
		}
		again, err := IssueLicense(signer, l)
		if err != nil {
			t.Fatalf("accepted license does not re-issue: %v", err)
		}
		if again != text {
			t.Fatalf("accepted %q, re-issues as %q", text, again)
		}
	})
}

// FuzzLicensePayload signs arbitrary payload bytes with a trusted key, so the
// fuzzer reaches the JSON and field checks behind the signature. Anything
// accepted must be exactly the canonical encoding of what it decoded to.
func FuzzLicensePayload(f *testing.F) {
	p, _ := encodeCanonical(goldenLicense())
	f.Add(p)
	f.Add(bytes.Replace(p, []byte(`"days":30,`), []byte(`"days":30,"days":30,`), 1))
	f.Add(bytes.Replace(p, []byte(`"days":`), []byte(`"Days":`), 1))
	f.Add(append(append([]byte(nil), p...), ' '))
	f.Add([]byte(`{}`))
	f.Add([]byte(`[]`))
	signer := testSigner(f, "server")
	trust := testTrust(f, "server")
	f.Fuzz(func(t *testing.T, payload []byte) {
		text, err := signer.SignPayload(KindLicense, payload)
		if err != nil {
			return // over the size cap
		}
		l, err := ParseLicense(trust, text)
		if err != nil {
			// The fast reader may refuse only what the reference decoder
			// refuses too, or what no valid license contains.
			var ref License
			if decodeCanonical(payload, &ref) == nil && ref.Validate() == nil {
				t.Fatalf("reference decoder accepts a valid license the token parser refuses: %v", err)
			}
			return
		}
		canon, err := encodeCanonical(l)
		if err != nil || !bytes.Equal(canon, payload) {
			t.Fatalf("accepted non-canonical payload %q (canonical %q)", payload, canon)
		}
		if err := l.Validate(); err != nil {
			t.Fatalf("accepted invalid license: %v", err)
		}
		_ = l.CheckTime(time.Unix(l.NotBefore, 0))
	})
}

// FuzzParseRevocationList feeds arbitrary text to the revocation list parser.
func FuzzParseRevocationList(f *testing.F) {
	good, _ := IssueRevocationList(testSigner(f, "server"), goldenRevocation())
	lic, _ := IssueLicense(testSigner(f, "server"), goldenLicense())
	for _, s := range []string{good, lic, good[:len(good)-1], "tg1.rev.0000000000000000.e30." + strings.Repeat("A", 86)} {
		f.Add(s)
	}
	trust := testTrust(f, "server")
	signer := testSigner(f, "server")
	f.Fuzz(func(t *testing.T, text string) {
		r, err := ParseRevocationList(trust, text)
		if err != nil {
			return
		}
		again, err := IssueRevocationList(signer, r)
		if err != nil || again != text {
			t.Fatalf("accepted %q, re-issues as %q (%v)", text, again, err)
		}
	})
}

// FuzzRevocationPayload reaches the revocation list's JSON and field checks.
func FuzzRevocationPayload(f *testing.F) {
	p, _ := encodeCanonical(goldenRevocation())
	f.Add(p)
	f.Add(bytes.Replace(p, []byte(`"seq":7`), []byte(`"seq":7,"seq":7`), 1))
	f.Add(bytes.Replace(p, []byte(`"device_id":"pump-0042",`), nil, 1))
	f.Add([]byte(`{"device_id":"gw-1","seq":1,"issued_at":0,"next_update":1,"revoked_licenses":[],"suspended_licenses":[],"blacklisted_devices":["c-1","gw-1"],"superseded_licenses":["0c000000-0000-4000-8000-000000000003:4"]}`))
	signer := testSigner(f, "server")
	trust := testTrust(f, "server")
	f.Fuzz(func(t *testing.T, payload []byte) {
		text, err := signer.SignPayload(KindRevocation, payload)
		if err != nil {
			return
		}
		r, err := ParseRevocationList(trust, text)
		if err != nil {
			var ref RevocationList
			if decodeCanonical(payload, &ref) == nil && ref.Validate() == nil {
				t.Fatalf("reference decoder accepts a valid list the parser refuses: %v", err)
			}
			return
		}
		canon, err := encodeCanonical(r)
		if err != nil || !bytes.Equal(canon, payload) {
			t.Fatalf("accepted non-canonical payload %q", payload)
		}
		if err := CheckNewer(r, r); err != nil {
			t.Fatalf("a list is not as new as itself: %v", err)
		}
		if err := r.CheckScope(r.DeviceID); err != nil {
			t.Fatalf("a list refuses its own scope: %v", err)
		}
	})
}

// FuzzParseTrustBundle feeds arbitrary bytes to the trust bundle parser.
func FuzzParseTrustBundle(f *testing.F) {
	f.Add(MarshalTrustBundle(testTrust(f, "server", "previous server")))
	f.Add([]byte(`{"version":1,"keys":[]}`))
	f.Add([]byte(`{"version":1,"version":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tr, err := ParseTrustBundle(data)
		if err != nil {
			return
		}
		again, err := ParseTrustBundle(MarshalTrustBundle(tr))
		if err != nil || len(again.IDs()) != len(tr.IDs()) {
			t.Fatalf("accepted bundle does not round-trip: %v", err)
		}
	})
}
