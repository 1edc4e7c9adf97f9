package runtime

import (
	"context"
	"strings"

	"github.com/tollgate-iot/tollgate/shared/syncproto"
)

// pushPrefix starts a signed sync answer (kind sys): what the server pushes
// on the control topic when it issues a new token version (docs/sync.md:
// the sync answer with an empty nonce).
const pushPrefix = "tg1.sys."

// controlPush takes in a push from the control topic if payload is one,
// and reports whether it was. The push is verified against the pinned
// trust, must be for this device and carry no nonce (an answer to a sync
// request is not a push), and is then applied exactly as a sync answer:
// server time into the effective clock, the revocation list and tokens
// through the activation path, where an older list or a lower token
// version is skipped.
func (a *Agent) controlPush(payload []byte) bool {
	text := strings.TrimSpace(string(payload))
	if !strings.HasPrefix(text, pushPrefix) {
		return false
	}
	if a.trust == nil {
		a.log.Warn("control push refused", "code", ErrorCode(ErrNoTrust), "err", ErrNoTrust)
		return true
	}
	r, err := syncproto.OpenResponse(a.trust, a.id.DeviceID, "", text)
	if err != nil {
		a.log.Warn("control push refused", "code", ErrorCode(err), "err", err)
		return true
	}
	if err := a.applySync(context.Background(), r); err != nil {
		a.log.Error("control push not applied", "code", ErrorCode(err), "err", err)
		return true
	}
	a.log.Info("control push applied", "tokens", len(r.Tokens), "server_time", r.ServerTime)
	return true
}
