package api

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"testing"

	"github.com/tollgate-iot/tollgate/shared/airgap"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
	"github.com/tollgate-iot/tollgate/shared/token"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// siteKey is the key of an air-gapped device, derived from its name.
func siteKey(name string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("air-gap test device key: " + name))
	return ed25519.NewKeyFromSeed(seed[:])
}

// activationRequest is the request file device id (model sensor-a) writes
// with the key named keyName.
func activationRequest(t testing.TB, id, keyName string) []byte {
	t.Helper()
	k := siteKey(keyName)
	f, err := airgap.SignActivationRequest(k, &airgap.ActivationRequest{DeviceID: id, Model: "sensor-a",
		PublicKey: token.EncodePublicKey(k.Public().(ed25519.PublicKey)), CreatedAt: 1773482400})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// activate posts an offline activation and returns the status and body.
func (e *syncEnv) activate(key string, request []byte, license string) (int, []byte) {
	e.t.Helper()
	return e.call("POST", "/v1/activations/offline", key, wire.OfflineActivationRequest{Request: string(request), LicenseID: license}, nil)
}

// openKey verifies an activation key answer against the server trust.
func (e *syncEnv) openKey(raw []byte) (*wire.ActivationKey, *airgap.ActivationKey, *token.Trust) {
	e.t.Helper()
	var k wire.ActivationKey
	if err := json.Unmarshal(raw, &k); err != nil {
		e.t.Fatalf("answer %s: %v", raw, err)
	}
	trust, err := e.ks.Trust()
	if err != nil {
		e.t.Fatal(err)
	}
	ak, err := airgap.OpenActivationKey(trust, []byte(k.File))
	if err != nil {
		e.t.Fatalf("activation key does not open: %v", err)
	}
	return &k, ak, trust
}

// receipt signs r as a usage receipt of its device and armors it.
func (e *syncEnv) receipt(r *syncproto.Report) []byte {
	e.t.Helper()
	p, err := token.EncodePayload(r)
	if err != nil {
		e.t.Fatal(err)
	}
	text, err := e.dev[r.DeviceID].SignPayload(token.KindUsageReceipt, p)
	if err != nil {
		e.t.Fatal(err)
	}
	f, err := airgap.Armor(token.KindUsageReceipt, text)
	if err != nil {
		e.t.Fatal(err)
	}
	return f
}

// importFile posts a usage receipt file.
func (e *syncEnv) importFile(key string, file []byte) (int, []byte) {
	e.t.Helper()
	return e.raw("POST", "/v1/usage/import", key, string(file), "text/plain")
}

// mustImport imports a receipt and returns the summary.
func (e *syncEnv) mustImport(key string, file []byte) wire.UsageImport {
	e.t.Helper()
	code, raw := e.importFile(key, file)
	if code != 200 {
		e.t.Fatalf("import: %d %s", code, raw)
	}
	var u wire.UsageImport
	if err := json.Unmarshal(raw, &u); err != nil {
		e.t.Fatal(err)
	}
	return u
}
