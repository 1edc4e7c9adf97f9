package airgap

import (
	"bytes"
	"encoding/json"
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

// FuzzOpenUsageReceipt: nothing panics; anything accepted validates and
// re-signs to a receipt that opens to the same report.
func FuzzOpenUsageReceipt(f *testing.F) {
	good, trust := receipt(f)
	f.Add(good)
	f.Add(good[:len(good)-5])
	f.Add(mustRequest(f))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := OpenUsageReceipt(trust, data)
		if err != nil {
			return
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("accepted invalid receipt: %v", err)
		}
	})
}

// FuzzDescribe (inspect's decoder): nothing panics on any input; whatever
// is described has a known kind and signature state, renders as JSON and
// as a table, and a document that verifies also opens with the strict
// parser of its kind.
func FuzzDescribe(f *testing.F) {
	keyFile, trust, k := realKey(f)
	rcpt, devTrust := receipt(f)
	for _, s := range [][]byte{keyFile, rcpt, mustRequest(f), []byte(k.Tokens[0]), []byte(k.RevocationList),
		[]byte("tg1.sys.abc.def.ghi"), []byte("tg1.trs.x.e30.y"), keyFile[:100]} {
		f.Add(s)
	}
	keys := Keys{Server: trust, Device: devTrust}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Describe(data, keys)
		if err != nil {
			return
		}
		if d.Kind == "" || d.Signature != SigValid && d.Signature != SigInvalid && d.Signature != SigNotChecked {
			t.Fatalf("described %q with signature %q", d.Kind, d.Signature)
		}
		if _, err := json.Marshal(d); err != nil {
			t.Fatal(err)
		}
		_ = d.Summary()
		if d.Signature != SigValid || !d.Armored {
			return
		}
		switch d.Kind {
		case "activation_key":
			_, err = OpenActivationKey(trust, data)
		case "activation_request":
			_, err = ParseActivationRequest(data)
		case "usage_receipt":
			_, err = OpenUsageReceipt(devTrust, data)
		}
		if err != nil {
			t.Fatalf("described as valid, refused by its parser: %v", err)
		}
	})
}
