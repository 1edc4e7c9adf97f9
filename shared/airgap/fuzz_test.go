package airgap

import (
	"bytes"
	"testing"

	"github.com/tollgate-iot/tollgate/shared/token"
)

// FuzzDearmor: nothing panics, and whatever dearmors re-armors to the same
// file (modulo CRLF).
func FuzzDearmor(f *testing.F) {
	f.Add(mustRequest(f))
	f.Add([]byte("-----BEGIN TOLLGATE USAGE RECEIPT-----\nabc\n-----END TOLLGATE USAGE RECEIPT-----\n"))
	f.Add([]byte("-----BEGIN TOLLGATE ACTIVATION KEY-----\r\n\r\n-----END TOLLGATE ACTIVATION KEY-----\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		kind, text, err := Dearmor(data)
		if err != nil {
			return
		}
		again, err := Armor(kind, text)
		if err != nil {
			t.Fatalf("dearmored file does not re-armor: %v", err)
		}
		if !bytes.Equal(again, bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))) {
			t.Fatalf("re-armored file differs:\n%q\n%q", data, again)
		}
	})
}

// FuzzParseActivationRequest: nothing panics; anything accepted is signed
// by its own key and re-signs to the same file.
func FuzzParseActivationRequest(f *testing.F) {
	good := mustRequest(f)
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseActivationRequest(data)
		if err != nil {
			return
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("accepted invalid request: %v", err)
		}
	})
}

// FuzzOpenActivationKey: nothing panics; anything accepted validates.
func FuzzOpenActivationKey(f *testing.F) {
	k, trust, signer := activationKey(f)
	good, _ := IssueActivationKey(signer, k)
	f.Add(good)
	f.Add(mustRequest(f))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := OpenActivationKey(trust, data)
		if err != nil {
			return
		}
		if err := got.Validate(); err != nil {
			t.Fatalf("accepted invalid key: %v", err)
		}
		if _, err := token.EncodePayload(got); err != nil {
			t.Fatal(err)
		}
	})
}
