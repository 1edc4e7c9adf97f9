package ledger

import (
	"context"
	"strings"

	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// DeviceKeyIDKnown reports whether a registered device holds a key with
// id keyID (the first 16 hex digits of its fingerprint, as a signed
// document names its key). The sync endpoint asks it after reading a
// request's first bytes, so that a body signed by no registered key is
// refused before the rest of it is read.
func (lg *Ledger) DeviceKeyIDKnown(ctx context.Context, keyID string) (bool, error) {
	if len(keyID) != token.KeyIDLen || strings.Trim(keyID, "0123456789abcdef") != "" {
		return false, nil // not a key id: no prefix of it may match
	}
	known := false
	err := lg.readOnce(func(o *op) error {
		return o.x.Scan(store.DeviceKeyIDPrefix(keyID), nil, false, func(_, _ []byte) (bool, error) {
			known = true
			return false, nil
		})
	})
	return known, err
}
