package ledger

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/airgap"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// ErrDeviceKeyMismatch reports an activation request for a registered
// device whose public key is not the one the ledger holds for it: another
// device claiming the id, or a device that was re-keyed. Nothing is bound.
var ErrDeviceKeyMismatch = errors.New("activation request key differs from the registered device key")

// ActivationKeyResult is a signed activation key and what it carries.
type ActivationKeyResult struct {
	// File is the armored activation key, ready to write to disk.
	File []byte
	Key  airgap.ActivationKey
	// RevocationSeq is the seq of the revocation list inside.
	RevocationSeq int64
	// DeviceCreated reports that the request registered the device.
	DeviceCreated bool
	// Bind is set when a license was bound (ActivateOffline).
	Bind *BindResult
}

// activationKeyAudit is what the audit log keeps of an activation key: no
// token, no signature.
type activationKeyAudit struct {
	Seq            int64    `json:"seq"`
	DeviceKey      string   `json:"device_key"`
	Licenses       []string `json:"licenses"`
	RevocationSeq  int64    `json:"revocation_seq"`
	TrustPrint     string   `json:"trust_fingerprint"`
	RequestCreated int64    `json:"request_created_at,omitempty"`
}

// ActivateOffline answers a verified activation request (docs/design.md#air-gapped-sites, step 2):
// it registers the device under the license's customer if it is new (its
// key must match if it is not), binds the license under every rule of Bind,
// and signs an activation key with the device's next seq — all in one
// transaction, so a refusal applies nothing.
func (lg *Ledger) ActivateOffline(ctx context.Context, a Actor, req *airgap.ActivationRequest, licenseID string) (*ActivationKeyResult, error) {
	if err := req.Validate(); err != nil {
		return nil, invalid("activation request: %v", err)
	}
	pub, err := token.ParsePublicKey(req.PublicKey)
	if err != nil {
		return nil, invalid("public_key: %v", err)
	}
	out := &ActivationKeyResult{Bind: &BindResult{}}
	err = lg.update(func(o *op) error {
		l, owner, err := o.visibleLicense(a, licenseID)
		if err != nil {
			return err
		}
		if err := o.canManage(a, owner, RoleOperator); err != nil {
			return err
		}
		d, created, err := o.requestDevice(a, owner, req, token.Fingerprint(pub))
		if err != nil {
			return err
		}
		out.DeviceCreated = created
		if err := o.bind(a, l, owner, d, false, out.Bind); err != nil {
			return err
		}
		return o.activationKey(a, d, req.CreatedAt, out)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// requestDevice returns the device a request names: the registered one,
// whose key must be the request's, or a new one of owner.
func (o *op) requestDevice(a Actor, owner *Customer, req *airgap.ActivationRequest, fp string) (*Device, bool, error) {
	d, err := o.device(req.DeviceID)
	if errors.Is(err, ErrNotFound) {
		in := DeviceInput{ID: req.DeviceID, CustomerID: owner.ID, Model: req.Model, PublicKey: req.PublicKey}
		d, err = o.createDevice(a, owner, in, fp)
		return d, err == nil, err
	}
	if err != nil {
		return nil, false, err
	}
	c, err := o.customer(d.CustomerID)
	if err != nil {
		return nil, false, err
	}
	if !o.sees(a, c) { // an id taken outside the caller's tree
		return nil, false, fmt.Errorf("%w: device %s", ErrExists, d.ID)
	}
	if d.KeyFingerprint != fp {
		return nil, false, fmt.Errorf("%w: device %s is registered with key %s, the request carries %s",
			ErrDeviceKeyMismatch, d.ID, d.KeyFingerprint, fp)
	}
	if d.Model != req.Model {
		return nil, false, invalid("device %s is registered as model %s, the request says %s", d.ID, d.Model, req.Model)
	}
	return d, false, nil
}

// NewActivationKey makes a fresh activation key for a registered device:
// the next seq, its current tokens and the current revocation list. This is
// how renewals, top-ups and revocations reach an air-gapped site.
func (lg *Ledger) NewActivationKey(ctx context.Context, a Actor, deviceID string) (*ActivationKeyResult, error) {
	out := &ActivationKeyResult{}
	err := lg.update(func(o *op) error {
		d, err := o.visibleDevice(a, deviceID)
		if err != nil {
			return err
		}
		c, err := o.customer(d.CustomerID)
		if err != nil {
			return err
		}
		if err := o.canManage(a, c, RoleOperator); err != nil {
			return err
		}
		return o.activationKey(a, d, 0, out)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// activationKey signs the device's next activation key into out. A change
// made earlier in the transaction to a revocation-list entry advances the
// head first, so the key carries the device's list that reflects it.
func (o *op) activationKey(a Actor, d *Device, requestCreated int64, out *ActivationKeyResult) error {
	if o.rlDirty {
		if _, err := o.advanceRevocationHead(); err != nil {
			return err
		}
	}
	seq, err := o.nextActivationSeq(d.ID)
	if err != nil {
		return err
	}
	st, err := o.syncState(d.ID)
	if err != nil {
		return err
	}
	k := airgap.ActivationKey{DeviceID: d.ID, DeviceKey: d.KeyFingerprint, Seq: seq, Tokens: []string{}, IssuedAt: o.now.Unix(), AckedSeq: st.AckedSeq}
	var licenses []string
	err = o.x.Scan(store.LicenseByDevicePrefix(d.ID), nil, false, func(key, _ []byte) (bool, error) {
		t, err := o.currentToken(store.LastPart(key))
		if err != nil || t == nil {
			return err == nil, err
		}
		k.Tokens = append(k.Tokens, t.Token)
		licenses = append(licenses, t.LicenseID+"@v"+strconv.FormatInt(t.Version, 10))
		return len(k.Tokens) < MaxSyncTokens, nil
	})
	if err != nil {
		return err
	}
	rl, err := o.signedRevocationList(d.ID, false) // a write: its head may not commit
	if err != nil {
		return err
	}
	if rl == nil {
		return notFound("revocation list", "current")
	}
	k.RevocationList = rl.Token
	signer, trust, err := o.lg.signerAndTrust()
	if err != nil {
		return err
	}
	k.TrustFingerprint = airgap.TrustFingerprint(trust)
	file, err := airgap.IssueActivationKey(signer, &k)
	if err != nil {
		return fmt.Errorf("ledger: sign activation key for %s: %w", d.ID, err)
	}
	out.File, out.Key, out.RevocationSeq = file, k, rl.Seq
	rec := activationKeyAudit{Seq: seq, DeviceKey: d.KeyFingerprint, Licenses: licenses, RevocationSeq: rl.Seq,
		TrustPrint: k.TrustFingerprint, RequestCreated: requestCreated}
	if rec.Licenses == nil {
		rec.Licenses = []string{}
	}
	return o.audit(a, "device.activation_key", "device", d.ID, d.CustomerID, nil, &rec)
}

// nextActivationSeq takes the device's next activation key seq.
func (o *op) nextActivationSeq(deviceID string) (int64, error) {
	k := store.ActivationSeqKey(deviceID)
	var seq int64
	b, err := o.x.Get(k)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return 0, err
	default:
		if seq, err = strconv.ParseInt(string(b), 10, 64); err != nil {
			return 0, fmt.Errorf("%w: activation seq of %s", store.ErrCorrupt, deviceID)
		}
	}
	seq++
	return seq, o.x.Put(k, []byte(strconv.FormatInt(seq, 10)))
}

// trustSource is a key source that also knows every key it ever signed
// with (keys.Store, keys.Cache).
type trustSource interface {
	Trust() (*token.Trust, error)
}

// signerAndTrust returns the active key and the server's trust bundle (the
// active key alone when the source keeps no others).
func (lg *Ledger) signerAndTrust() (*token.Signer, *token.Trust, error) {
	s, err := lg.keys.Active()
	if err != nil {
		return nil, nil, fmt.Errorf("ledger: signing key: %w", err)
	}
	if ts, ok := lg.keys.(trustSource); ok {
		t, err := ts.Trust()
		if err != nil {
			return nil, nil, fmt.Errorf("ledger: trust bundle: %w", err)
		}
		return s, t, nil
	}
	t, err := token.NewTrust(s.PublicKey())
	return s, t, err
}
