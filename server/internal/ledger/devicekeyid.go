package ledger

import (
	"context"
	"strings"

	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// MaxKeyHolders bounds how many devices DeviceKeyHolders returns for one
// key id. Two registered keys share a 16-hex-digit id only by a 1-in-2^64
// accident; the bound keeps a crafted id from costing a long walk.
const MaxKeyHolders = 8

// DeviceKeyHolders returns the registered devices whose key has id keyID
// (the first 16 hex digits of its fingerprint, as a signed document names
// its key), each with its key's whole fingerprint, in one read of the
// fingerprint index. The sync endpoint asks it after reading a request's
// first bytes, so that a body signed by no registered key is refused
// before the rest of it is read; the fingerprints then let it check the
// signature with a key it parsed before (a fingerprint names one key, and
// a device's key never changes), without reading the device.
func (lg *Ledger) DeviceKeyHolders(ctx context.Context, keyID string) (map[string]string, error) {
	if len(keyID) != token.KeyIDLen || strings.Trim(keyID, "0123456789abcdef") != "" {
		return nil, nil // not a key id: no prefix of it may match
	}
	var out map[string]string
	err := lg.readOnce(func(o *op) error {
		return o.x.Scan(store.DeviceKeyIDPrefix(keyID), nil, true, func(k, v []byte) (bool, error) {
			if out == nil {
				out = map[string]string{}
			}
			out[string(v)] = store.LastPart(k)
			return len(out) < MaxKeyHolders, nil
		})
	})
	return out, err
}
