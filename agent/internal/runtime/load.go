package runtime

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"

	"github.com/tollgate-iot/tollgate/agent/internal/gate"
	"github.com/tollgate-iot/tollgate/agent/internal/limits"
	"github.com/tollgate-iot/tollgate/agent/internal/store"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// specs returns the devices this agent enforces for: itself and its
// configured children.
func (a *Agent) specs() ([]gate.Spec, error) {
	out := []gate.Spec{{ID: a.id.DeviceID, Model: a.id.Model,
		KeyFingerprint: token.Fingerprint(a.priv.Public().(ed25519.PublicKey))}}
	for _, ch := range a.cfg.Children {
		if ch.ID == a.id.DeviceID {
			return nil, fmt.Errorf("child %s has the gateway's own id", ch.ID)
		}
		pub, err := token.ParsePublicKey(ch.PublicKey)
		if err != nil {
			return nil, fmt.Errorf("child %s: %w", ch.ID, err)
		}
		out = append(out, gate.Spec{ID: ch.ID, Model: ch.Model, KeyFingerprint: token.Fingerprint(pub)})
	}
	return out, nil
}

// tokens returns the stored tokens, verified again against the pinned trust
// (the database is encrypted, but a token is only ever used verified),
// grouped by device.
func (a *Agent) tokens() (map[string][]gate.Token, error) {
	texts, err := a.st.Tokens()
	if err != nil {
		return nil, err
	}
	out := map[string][]gate.Token{}
	if a.trust == nil {
		return out, nil
	}
	for _, text := range texts {
		l, err := token.ParseLicense(a.trust, text)
		if err != nil {
			// A rotated-out key or a corrupt record: skip, loudly.
			a.log.Warn("stored token no longer verifies; ignored", "err", err)
			continue
		}
		out[l.DeviceID] = append(out[l.DeviceID], gate.Token{Lic: l, Text: text})
	}
	return out, nil
}

func (a *Agent) loadRevocation() error {
	text, err := a.st.Revocation()
	if errors.Is(err, store.ErrNotFound) || a.trust == nil {
		return nil
	}
	if err != nil {
		return err
	}
	r, err := token.ParseRevocationList(a.trust, text)
	if err == nil {
		err = r.CheckScope(a.id.DeviceID)
	}
	if err != nil {
		return fmt.Errorf("%w: stored revocation list: %v", store.ErrCorrupt, err)
	}
	a.gate.SetRevocation(r)
	return nil
}

// loadGate restores every device's state from the store.
func (a *Agent) loadGate() error {
	specs, err := a.specs()
	if err != nil {
		return err
	}
	toks, err := a.tokens()
	if err != nil {
		return err
	}
	if err := a.loadRevocation(); err != nil {
		return err
	}
	states := make([]gate.Restore, 0, len(specs))
	for _, sp := range specs {
		r, err := a.restore(sp, toks[sp.ID])
		if err != nil {
			return fmt.Errorf("device %s: %w", sp.ID, err)
		}
		states = append(states, r)
	}
	a.gate.Load(states)
	refused, err := a.st.Counters()
	if err != nil {
		return err
	}
	a.refusedBase = refused
	return nil
}

func (a *Agent) restore(sp gate.Spec, toks []gate.Token) (gate.Restore, error) {
	r := gate.Restore{Spec: sp, Tokens: toks}
	var err error
	if r.Deductions, err = a.st.Deductions(sp.ID); err != nil {
		return r, err
	}
	if r.FailedDays, err = a.st.FailedDays(sp.ID); err != nil {
		return r, err
	}
	if r.DeductionSeq, err = a.st.DeductionSeq(sp.ID); err != nil {
		return r, err
	}
	if r.SampleSeq, err = a.st.Int(store.KeySampleSeq(sp.ID)); err != nil {
		return r, err
	}
	eff, _ := a.clk.Now()
	hour := eff / int64(3600e9)
	if err := a.st.PruneBuckets(sp.ID, hour-limits.BudgetHours+1); err != nil {
		return r, err
	}
	if r.Buckets, err = a.st.Buckets(sp.ID); err != nil {
		return r, err
	}
	if err := a.st.GetJSON(store.KeyTotals(sp.ID), &r.Totals); err != nil && !errors.Is(err, store.ErrNotFound) {
		return r, err
	}
	var sb store.SelfBlacklist
	switch err := a.st.GetJSON(store.KeySelfBlacklist(sp.ID), &sb); {
	case err == nil:
		r.SelfBlacklist = &sb
	case !errors.Is(err, store.ErrNotFound):
		return r, err
	}
	return r, nil
}

// isRevocation tells a revocation list's text from a license token's.
func isRevocation(text string) bool { return strings.HasPrefix(text, "tg1.rev.") }
