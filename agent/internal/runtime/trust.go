package runtime

import (
	"context"
	"errors"
	"fmt"

	"github.com/tollgate-iot/tollgate/agent/internal/config"
	"github.com/tollgate-iot/tollgate/agent/internal/store"
	"github.com/tollgate-iot/tollgate/shared/airgap"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// ErrTrustPinned reports a trust bundle other than the pinned one, given
// without the explicit consent to replace it.
var ErrTrustPinned = errors.New("another trust bundle is already pinned")

// ErrTrustReplace reports a replacement bundle that would not verify the
// revocation list the agent holds: replacing the bundle must not drop a
// revocation.
var ErrTrustReplace = errors.New("the new trust bundle does not verify the revocation list held")

// Results of PinTrust.
const (
	TrustPinnedResult   = "pinned"
	TrustUnchanged      = "unchanged"
	TrustReplacedResult = "replaced"
)

// TrustResult is what `tollgate-agent trust` reports.
type TrustResult struct {
	Result string `json:"result"`
	// Fingerprint identifies the bundle now pinned (the key ids it holds),
	// as activation keys name it.
	Fingerprint string   `json:"fingerprint"`
	KeyIDs      []string `json:"key_ids"`
	// Previous is the fingerprint of the bundle replaced, if one was.
	Previous string `json:"previous,omitempty"`
}

// PinTrust pins the license server's trust bundle in an initialized data
// directory: when none is pinned (an init without --trust), or, with
// replace, over another one. The same bundle again changes nothing.
func PinTrust(ctx context.Context, cfg config.Config, bundle []byte, replace bool, o Options) (TrustResult, error) {
	t, err := token.ParseTrustBundle(bundle)
	if err != nil {
		return TrustResult{}, fmt.Errorf("trust bundle: %w", err)
	}
	a, err := Open(ctx, cfg, o)
	if err != nil {
		return TrustResult{}, err
	}
	res, err := a.pinTrust(bundle, t, replace)
	return res, errors.Join(err, a.Close())
}

func (a *Agent) pinTrust(bundle []byte, t *token.Trust, replace bool) (TrustResult, error) {
	res := TrustResult{Result: TrustPinnedResult, Fingerprint: airgap.TrustFingerprint(t), KeyIDs: t.IDs()}
	if a.trust != nil {
		res.Previous = airgap.TrustFingerprint(a.trust)
		if res.Previous == res.Fingerprint {
			res.Result, res.Previous = TrustUnchanged, ""
			return res, nil
		}
		if !replace {
			return TrustResult{}, fmt.Errorf("%w (%s…, the file holds %s…): give --replace to pin the new one; "+
				"tokens signed only by keys it lacks then stop verifying", ErrTrustPinned, res.Previous[:12], res.Fingerprint[:12])
		}
		text, err := a.st.Revocation()
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return TrustResult{}, err
		}
		if err == nil {
			if _, err := token.ParseRevocationList(t, text); err != nil {
				return TrustResult{}, fmt.Errorf("%w: %v (the bundle must hold the key that signed it)", ErrTrustReplace, err)
			}
		}
		res.Result = TrustReplacedResult
	}
	if err := a.st.PinTrust(bundle); err != nil {
		return TrustResult{}, err
	}
	if res.Result == TrustReplacedResult {
		a.log.Warn("trust bundle replaced", "device_id", a.id.DeviceID, "previous", res.Previous, "fingerprint", res.Fingerprint)
	} else {
		a.log.Info("trust bundle pinned", "device_id", a.id.DeviceID, "fingerprint", res.Fingerprint)
	}
	return res, nil
}
