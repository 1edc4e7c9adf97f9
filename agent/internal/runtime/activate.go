package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/tollgate-iot/tollgate/agent/internal/limits"
	"github.com/tollgate-iot/tollgate/agent/internal/store"
	"github.com/tollgate-iot/tollgate/shared/ident"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// ErrWrongDevice reports a token for another device (or another key).
var ErrWrongDevice = errors.New("token is for another device")

// ErrModelMismatch reports a token whose model range excludes the device.
var ErrModelMismatch = errors.New("device model is outside the token's model range")

// ErrUnknownDocument reports activation input that is neither a license
// token nor a revocation list.
var ErrUnknownDocument = errors.New("not a license token or revocation list")

// Imported describes one document taken in by Activate.
type Imported struct {
	Kind     string `json:"kind"`
	ID       string `json:"id"`
	DeviceID string `json:"device_id,omitempty"`
	Version  int64  `json:"version"`
	Result   string `json:"result"`
}

// SplitDocuments splits activation input (one document per line or
// whitespace-separated) and bounds it.
func SplitDocuments(input string) ([]string, error) {
	if len(input) > limits.MaxActivationFileBytes {
		return nil, fmt.Errorf("%w: input is %d bytes, at most %d", token.ErrTooLarge, len(input), limits.MaxActivationFileBytes)
	}
	docs := strings.Fields(input)
	if len(docs) == 0 {
		return nil, fmt.Errorf("%w: empty input", ErrUnknownDocument)
	}
	return docs, nil
}

// parsed is one verified activation document.
type parsed struct {
	lic  *token.License
	rev  *token.RevocationList
	text string
}

// Activate verifies and stores license tokens and revocation lists. All
// documents are verified before anything is stored; a token for another
// device is refused unless that device is a configured child.
func (a *Agent) Activate(docs []string) ([]Imported, error) {
	if a.trust == nil {
		return nil, ErrNoTrust
	}
	a.imp.Lock()
	defer a.imp.Unlock()
	if len(docs) == 1 && IsActivationKey(docs[0]) {
		return a.activateKey(docs[0]) // air-gap: airgap.go
	}
	ps := make([]parsed, 0, len(docs))
	for i, text := range docs {
		p, err := a.verifyDocument(text)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i+1, err)
		}
		ps = append(ps, p)
	}
	out := make([]Imported, 0, len(ps))
	for _, p := range ps {
		im, err := a.importOne(p.lic, p.rev, p.text)
		if err != nil {
			return out, err
		}
		out = append(out, im)
	}
	return out, a.reloadTokens()
}

// verifyDocument checks one license token or revocation list against the
// pinned trust and what the agent holds: never an older list, never a
// list signed for another device, never a token for a device this agent
// does not enforce for. (A lower token version is refused when it is
// stored.)
func (a *Agent) verifyDocument(text string) (parsed, error) {
	if isRevocation(text) {
		r, err := token.ParseRevocationList(a.trust, text)
		if err != nil {
			return parsed{}, err
		}
		if err := r.CheckScope(a.id.DeviceID); err != nil {
			return parsed{}, fmt.Errorf("%w: %w", ErrWrongDevice, err)
		}
		if err := token.CheckNewer(a.gate.Revocation(), r); err != nil {
			return parsed{}, err
		}
		return parsed{rev: r, text: text}, nil
	}
	if !strings.HasPrefix(text, "tg1.lic.") {
		return parsed{}, ErrUnknownDocument
	}
	l, err := token.ParseLicense(a.trust, text)
	if err != nil {
		return parsed{}, err
	}
	if err := a.checkOwner(l); err != nil {
		return parsed{}, err
	}
	return parsed{lic: l, text: text}, nil
}

// checkOwner refuses a token that names another device, key or model.
func (a *Agent) checkOwner(l *token.License) error {
	d := a.gate.Lookup(l.DeviceID)
	if d == nil {
		return fmt.Errorf("%w: token for %s, this agent is %s", ErrWrongDevice, l.DeviceID, a.id.DeviceID)
	}
	if l.DeviceKey != d.KeyFingerprint {
		return fmt.Errorf("%w: token names key %s…, device %s has %s…", ErrWrongDevice, l.DeviceKey[:12], d.ID, d.KeyFingerprint[:12])
	}
	if !ident.ModelMatches(l.Models, d.Model) {
		return fmt.Errorf("%w: model %s, range %v", ErrModelMismatch, d.Model, l.Models)
	}
	return nil
}

func (a *Agent) importOne(l *token.License, r *token.RevocationList, text string) (Imported, error) {
	if r != nil {
		if err := a.st.PutRevocation(text); err != nil {
			return Imported{}, err
		}
		a.gate.SetRevocation(r)
		return Imported{Kind: "revocation_list", ID: fmt.Sprint(r.Seq), Version: r.Seq, Result: "stored"}, nil
	}
	newer, err := a.st.PutToken(l, text)
	if err != nil {
		return Imported{}, err
	}
	im := Imported{Kind: "license", ID: l.LicenseID, DeviceID: l.DeviceID, Version: l.Version, Result: "unchanged"}
	if newer {
		im.Result = "stored"
		if store.LiftsSelfBlacklist(l) {
			if err := a.st.ClearSelfBlacklist(l.DeviceID); err != nil {
				return im, err
			}
			a.gate.ClearSelfBlacklist(l.DeviceID)
		}
	}
	level := slog.LevelInfo
	if !newer {
		level = slog.LevelDebug // every sync answer repeats the tokens held
	}
	a.log.Log(context.Background(), level, "license imported", "license_id", l.LicenseID, "device_id", l.DeviceID,
		"version", l.Version, "result", im.Result)
	return im, nil
}

// reloadTokens hands the stored tokens to the gate, device by device.
func (a *Agent) reloadTokens() error {
	toks, err := a.tokens()
	if err != nil {
		return err
	}
	for _, d := range a.gate.Devices() {
		id := d.ID
		if err := a.gate.SetTokens(id, toks[id], func() ([]store.Deduction, error) { return a.st.Deductions(id) }); err != nil {
			return err
		}
	}
	return nil
}
