package runtime

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tollgate-iot/tollgate/agent/internal/store"
	"github.com/tollgate-iot/tollgate/shared/airgap"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// Air-gapped sites (docs/design.md#air-gapped-sites, docs/sync.md): the agent writes an activation
// request, applies activation keys and writes usage receipts, all as files.

// ErrNotActivationKey reports an air-gap file given to activate that is not
// an activation key (a request or a usage receipt).
var ErrNotActivationKey = errors.New("not an activation key")

// IsActivationKey tells an activation key's text (dearmored) among
// activation documents.
func IsActivationKey(text string) bool { return strings.HasPrefix(text, "tg1.act.") }

// Request returns this device's signed activation request file (docs/design.md#air-gapped-sites
// step 1): device id, model, public key and the effective time.
func (a *Agent) Request() ([]byte, *airgap.ActivationRequest, error) {
	r := &airgap.ActivationRequest{DeviceID: a.id.DeviceID, Model: a.id.Model, PublicKey: a.id.PublicKey, CreatedAt: a.effSeconds()}
	f, err := airgap.SignActivationRequest(a.priv, r)
	return f, r, err
}

// activateKey applies an activation key (its dearmored text) with no
// network (docs/design.md#air-gapped-sites step 3). The caller holds a.imp. Everything is checked
// before anything is stored: the server signature against the pinned
// trust, the trust fingerprint, that the key is this device's (id and key
// fingerprint), its expiry by the effective clock (after taking its issue
// time as server time), every token and the revocation list inside; then
// Seq above the last key applied, tokens, list, acknowledged mark and
// clock are stored in one transaction (store.ApplyKey).
func (a *Agent) activateKey(text string) ([]Imported, error) {
	file, err := airgap.Armor(token.KindActivationKey, text)
	if err != nil {
		return nil, err
	}
	k, err := airgap.OpenActivationKey(a.trust, file)
	if err != nil {
		return nil, err
	}
	if err := a.checkKey(k); err != nil {
		return nil, err
	}
	apply := store.KeyToApply{DeviceID: a.id.DeviceID, Seq: k.Seq, AckedSeq: k.AckedSeq}
	rev, err := a.keyRevocation(k.RevocationList)
	if err != nil {
		return nil, err
	}
	if rev != nil {
		apply.Revocation = k.RevocationList
	}
	for i, t := range k.Tokens {
		p, err := a.verifyDocument(t)
		if err == nil && p.lic == nil {
			err = fmt.Errorf("%w: a revocation list among the tokens", ErrUnknownDocument)
		}
		if err != nil {
			return nil, fmt.Errorf("activation key %d, token %d: %w", k.Seq, i+1, err)
		}
		apply.Tokens = append(apply.Tokens, store.TokenToApply{License: p.lic, Text: t})
	}
	a.clk.ObserveServerTime(k.IssuedAt)
	apply.Clock = a.clk.State()
	results, err := a.st.ApplyKey(apply)
	if err != nil {
		return nil, err
	}
	return a.keyApplied(k, apply, rev, results)
}

// checkKey refuses a key for another device or trust bundle, or one that
// expired by the effective clock.
func (a *Agent) checkKey(k *airgap.ActivationKey) error {
	fp := token.Fingerprint(a.priv.Public().(ed25519.PublicKey))
	if k.DeviceID != a.id.DeviceID || k.DeviceKey != fp {
		return fmt.Errorf("%w: activation key for %s (key %s…), this agent is %s (key %s…)", ErrWrongDevice,
			k.DeviceID, k.DeviceKey[:12], a.id.DeviceID, fp[:12])
	}
	if mine := airgap.TrustFingerprint(a.trust); k.TrustFingerprint != mine {
		return fmt.Errorf("%w: key made for trust bundle %s…, this agent pins %s…", airgap.ErrTrustMismatch,
			k.TrustFingerprint[:12], mine[:12])
	}
	return k.CheckKeyTime(max(a.effSeconds(), k.IssuedAt))
}

// keyRevocation verifies the key's revocation list; it returns nil when
// the agent holds that list or a newer one already (kept, as on sync).
func (a *Agent) keyRevocation(text string) (*token.RevocationList, error) {
	if !isRevocation(text) {
		return nil, fmt.Errorf("%w: the key's revocation_list is not a revocation list", token.ErrWrongKind)
	}
	p, err := a.verifyDocument(text)
	if errors.Is(err, token.ErrRollback) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("activation key revocation list: %w", err)
	}
	if held := a.gate.Revocation(); held != nil && held.Seq == p.rev.Seq {
		return nil, nil
	}
	return p.rev, nil
}

// keyApplied hands what the key stored to the gate and describes it.
func (a *Agent) keyApplied(k *airgap.ActivationKey, apply store.KeyToApply, rev *token.RevocationList, results []string) ([]Imported, error) {
	out := []Imported{{Kind: "activation_key", ID: fmt.Sprint(k.Seq), DeviceID: k.DeviceID, Version: k.Seq, Result: "applied"}}
	if rev != nil {
		a.gate.SetRevocation(rev)
		out = append(out, Imported{Kind: "revocation_list", ID: fmt.Sprint(rev.Seq), Version: rev.Seq, Result: store.TokenStored})
	}
	for i, t := range apply.Tokens {
		if results[i] == store.TokenStored && store.LiftsSelfBlacklist(t.License) {
			a.gate.ClearSelfBlacklist(t.License.DeviceID)
		}
		out = append(out, Imported{Kind: "license", ID: t.License.LicenseID, DeviceID: t.License.DeviceID,
			Version: t.License.Version, Result: results[i]})
	}
	a.log.Info("activation key applied", "device_id", k.DeviceID, "seq", k.Seq, "tokens", len(k.Tokens),
		"acked_seq", k.AckedSeq, "issued_at", time.Unix(k.IssuedAt, 0).UTC())
	return out, a.reloadTokens()
}

// InspectKeys are the keys `inspect` checks signatures with: the pinned
// trust bundle and this device's own key.
func (a *Agent) InspectKeys() (airgap.Keys, error) {
	dev, err := token.NewTrust(a.priv.Public().(ed25519.PublicKey))
	return airgap.Keys{Server: a.trust, Device: dev}, err
}
