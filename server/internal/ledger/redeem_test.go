package ledger

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/tollgate-iot/tollgate/shared/airgap"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// newDeviceKey returns a fresh device key pair's private half.
func newDeviceKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return priv
}

func activationRequest(priv ed25519.PrivateKey, id, model string) *airgap.ActivationRequest {
	return &airgap.ActivationRequest{DeviceID: id, Model: model,
		PublicKey: token.EncodePublicKey(priv.Public().(ed25519.PublicKey)), CreatedAt: epoch.Unix()}
}

func (e *env) redeem(req *airgap.ActivationRequest, code string) *RedeemResult {
	e.t.Helper()
	r, err := e.lg.Redeem(ctx, req, code, "192.0.2.1")
	if err != nil {
		e.t.Fatalf("Redeem %s by %s: %v", code, req.DeviceID, err)
	}
	return r
}

// answerLicenses verifies the answer's tokens and returns their license ids.
func (e *env) answerLicenses(r *syncproto.Response, device string) []string {
	e.t.Helper()
	trust, err := e.ks.Trust()
	if err != nil {
		e.t.Fatal(err)
	}
	if r.DeviceID != device || r.RevocationList == "" || r.ServerTime != e.clk.Now().Unix() {
		e.t.Fatalf("answer %+v: want device %s, a revocation list and server time", r, device)
	}
	if _, err := token.ParseRevocationList(trust, r.RevocationList); err != nil {
		e.t.Fatalf("answer's revocation list: %v", err)
	}
	ids := []string{}
	for _, text := range r.Tokens {
		l, err := token.ParseLicense(trust, text)
		if err != nil {
			e.t.Fatalf("answer token: %v", err)
		}
		if l.DeviceID != device {
			e.t.Fatalf("answer token for %s", l.DeviceID)
		}
		ids = append(ids, l.LicenseID)
	}
	return ids
}

func TestRedeemSerialRegistersDeviceAndBinds(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, _ := e.tree()
	l := e.create(dist, std("acme"))
	priv := newDeviceKey(t)
	r := e.redeem(activationRequest(priv, "dev-1", "sensor-a"), " "+l.Serial+" ")
	if !r.DeviceCreated || r.Retry || r.Method != RedeemSerial || r.Device.CustomerID != "acme" {
		t.Fatalf("result %+v", r)
	}
	if r.License == nil || r.License.ID != l.ID || r.License.Status != StatusActive {
		t.Fatalf("license %+v", r.License)
	}
	if ids := e.answerLicenses(r.Response, "dev-1"); len(ids) != 1 || ids[0] != l.ID {
		t.Fatalf("answer carries %v, want [%s]", ids, l.ID)
	}
	d, err := e.lg.GetDevice(ctx, acme, "dev-1")
	if err != nil || d.Model != "sensor-a" || d.PublicKey != token.EncodePublicKey(priv.Public().(ed25519.PublicKey)) {
		t.Fatalf("device %+v, %v", d, err)
	}
	if got := e.get(l.ID); got.DeviceID != "dev-1" {
		t.Fatalf("license bound to %q", got.DeviceID)
	}
}

func TestRedeemIsAuditedWithSourceAndDeviceActor(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, _ := e.tree()
	l := e.create(dist, std("acme"))
	e.redeem(activationRequest(newDeviceKey(t), "dev-1", "sensor-a"), l.Serial)
	entries, _, err := e.lg.ListAudit(ctx, acme, "", 50)
	if err != nil {
		t.Fatal(err)
	}
	var rec redeemAudit
	for _, en := range entries {
		if en.Action == "device.redeem" {
			if en.UserID != "device:dev-1" || en.ActorOf != "acme" || en.ObjectID != "dev-1" {
				t.Fatalf("entry %+v", en)
			}
			if err := json.Unmarshal(en.After, &rec); err != nil {
				t.Fatal(err)
			}
		}
	}
	if rec.Serial != l.Serial || rec.LicenseID != l.ID || rec.Source != "192.0.2.1" || !rec.DeviceCreated {
		t.Fatalf("audit record %+v", rec)
	}
}

func TestRedeemIsIdempotentForSameDevice(t *testing.T) {
	e := newEnv(t)
	dist, _, _, _ := e.tree()
	l := e.create(dist, std("acme"))
	req := activationRequest(newDeviceKey(t), "dev-1", "sensor-a")
	first := e.redeem(req, l.Serial)
	again := e.redeem(req, l.Serial)
	if !again.Retry || again.DeviceCreated || again.License == nil || again.License.ID != l.ID {
		t.Fatalf("retry %+v", again)
	}
	if first.License.Version != again.License.Version {
		t.Fatalf("retry re-issued the token: version %d → %d", first.License.Version, again.License.Version)
	}
	if a, b := first.Response.Tokens, again.Response.Tokens; len(a) != 1 || len(b) != 1 || a[0] != b[0] {
		t.Fatalf("retry answered other tokens")
	}
}

func TestRedeemRefusesLicenseBoundElsewhere(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, _ := e.tree()
	l := e.create(dist, std("acme"))
	e.redeem(activationRequest(newDeviceKey(t), "dev-1", "sensor-a"), l.Serial)
	_, err := e.lg.Redeem(ctx, activationRequest(newDeviceKey(t), "dev-2", "sensor-a"), l.Serial, "")
	wantErr(t, err, ErrBound)
	if _, err := e.lg.GetDevice(ctx, acme, "dev-2"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the refused redemption registered dev-2: %v", err)
	}
}

func TestRedeemRefusesDeactivatedLicense(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, _ := e.tree()
	l := e.create(dist, std("acme"))
	e.redeem(activationRequest(newDeviceKey(t), "dev-1", "sensor-a"), l.Serial)
	if _, err := e.lg.Unbind(ctx, acme, l.ID); err != nil {
		t.Fatal(err)
	}
	_, err := e.lg.Redeem(ctx, activationRequest(newDeviceKey(t), "dev-2", "sensor-a"), l.Serial, "")
	wantErr(t, err, ErrNotUnused)
}

func TestRedeemRefusesModelOutsideRange(t *testing.T) {
	e := newEnv(t)
	dist, _, _, _ := e.tree()
	l := e.create(dist, std("acme"))
	_, err := e.lg.Redeem(ctx, activationRequest(newDeviceKey(t), "dev-1", "camera-x"), l.Serial, "")
	wantErr(t, err, ErrModelMismatch)
	if got := e.get(l.ID); got.Status != StatusUnused {
		t.Fatalf("license is %s after a refused redemption", got.Status)
	}
}

func TestRedeemRefusesUnknownSerialAndLicenseID(t *testing.T) {
	e := newEnv(t)
	dist, _, _, _ := e.tree()
	l := e.create(dist, std("acme"))
	for _, code := range []string{"TG-0000-0000", l.ID, "tge_nothing"} {
		_, err := e.lg.Redeem(ctx, activationRequest(newDeviceKey(t), "dev-1", "sensor-a"), code, "")
		wantErr(t, err, ErrUnknownCode)
	}
}

func TestRedeemRefusesRegisteredDeviceWithOtherKey(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, _ := e.tree()
	e.device(acme, "acme", "dev-1", "sensor-a")
	l := e.create(dist, std("acme"))
	_, err := e.lg.Redeem(ctx, activationRequest(newDeviceKey(t), "dev-1", "sensor-a"), l.Serial, "")
	wantErr(t, err, ErrDeviceKeyMismatch)
}

func TestRedeemRefusesDeviceOfAnotherCustomer(t *testing.T) {
	e := newEnv(t)
	dist, _, _, beta := e.tree()
	priv := newDeviceKey(t)
	req := activationRequest(priv, "dev-1", "sensor-a")
	if _, err := e.lg.CreateDevice(ctx, beta, DeviceInput{ID: "dev-1", CustomerID: "beta", Model: "sensor-a", PublicKey: req.PublicKey}); err != nil {
		t.Fatal(err)
	}
	l := e.create(dist, std("acme"))
	_, err := e.lg.Redeem(ctx, req, l.Serial, "")
	wantErr(t, err, ErrDeviceCustomerMismatch)
}

func TestRedeemBindsRegisteredDeviceOfSameCustomer(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, _ := e.tree()
	priv := newDeviceKey(t)
	req := activationRequest(priv, "dev-1", "sensor-a")
	if _, err := e.lg.CreateDevice(ctx, acme, DeviceInput{ID: "dev-1", CustomerID: "acme", Model: "sensor-a", PublicKey: req.PublicKey}); err != nil {
		t.Fatal(err)
	}
	l := e.create(dist, std("acme"))
	r := e.redeem(req, l.Serial)
	if r.DeviceCreated || r.License == nil || r.License.DeviceID != "dev-1" {
		t.Fatalf("result %+v", r)
	}
}

func TestRedeemRefusesSuspendedAndLockedLicenses(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, _ := e.tree()
	sus := e.create(dist, std("acme"))
	if _, err := e.lg.Suspend(ctx, dist, sus.ID); err != nil {
		t.Fatal(err)
	}
	_, err := e.lg.Redeem(ctx, activationRequest(newDeviceKey(t), "dev-1", "sensor-a"), sus.Serial, "")
	wantErr(t, err, ErrSuspended)
	locked := e.create(dist, std("acme"))
	if _, err := e.lg.SetLock(ctx, acme, locked.ID, true); err != nil {
		t.Fatal(err)
	}
	_, err = e.lg.Redeem(ctx, activationRequest(newDeviceKey(t), "dev-1", "sensor-a"), locked.Serial, "")
	wantErr(t, err, ErrLocked)
}

func (e *env) auditActions(a Actor) []string {
	e.t.Helper()
	es, _, err := e.lg.ListAudit(ctx, a, "", MaxPageSize)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, en := range es {
		out = append(out, en.Action)
	}
	return out
}

func TestRedeemRefusalIsAuditedForTheCodesCustomer(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, _ := e.tree()
	l := e.create(dist, std("acme"))
	e.redeem(activationRequest(newDeviceKey(t), "dev-1", "sensor-a"), l.Serial)
	before := len(e.auditActions(SystemActor()))
	_, err := e.lg.Redeem(ctx, activationRequest(newDeviceKey(t), "dev-2", "sensor-a"), l.Serial, "198.51.100.7")
	wantErr(t, err, ErrBound)
	es, _, err := e.lg.ListAudit(ctx, acme, "", 1)
	if err != nil || len(es) != 1 || es[0].Action != "device.redeem_refused" || es[0].ObjectID != "dev-2" || es[0].CustomerID != "acme" {
		t.Fatalf("newest acme entry %+v, %v", es, err)
	}
	var rec redeemAudit
	if err := json.Unmarshal(es[0].After, &rec); err != nil || rec.Source != "198.51.100.7" || rec.LicenseID != l.ID ||
		!strings.Contains(rec.Refused, "bound") {
		t.Fatalf("refusal record %+v, %v", rec, err)
	}
	if after := len(e.auditActions(SystemActor())); after != before+1 {
		t.Fatalf("a refusal wrote %d entries, want 1", after-before)
	}
	// A code that does not exist has no customer to show it to.
	_, err = e.lg.Redeem(ctx, activationRequest(newDeviceKey(t), "dev-3", "sensor-a"), "TG-ZZZZ-ZZZZ", "198.51.100.7")
	wantErr(t, err, ErrUnknownCode)
	if after := len(e.auditActions(SystemActor())); after != before+1 {
		t.Fatal("an unknown code was audited")
	}
}
