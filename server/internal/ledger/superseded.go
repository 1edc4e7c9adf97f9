package ledger

import (
	"errors"

	"github.com/tollgate-iot/tollgate/server/internal/store"
)

// A device that loses a license (unbind, replacement, transfer, a move to
// another customer) keeps its last token, signed and within its window,
// and an offline agent would go on using it. The revocation list names such
// licenses as LICENSE_ID:VERSION: every token of the license below VERSION
// is void. One entry per license, the latest; it stays in the list while a
// void token could still be within its window.

// superseded is the stored form of one entry.
type superseded struct {
	// Version is the lowest token version still valid.
	Version int64 `json:"version"`
	// Until is the latest not_after of any void token, in Unix seconds.
	Until int64 `json:"until"`
}

// supersedeOnHolderChange records an entry when a change moves l away from
// the device or customer its earlier tokens name, or transfers it, while
// one of those tokens may still be valid. before is l before the change, l
// after it (already reissued, so its tokens for a new holder carry
// l.Version and stay valid).
func (o *op) supersedeOnHolderChange(before, l *License) error {
	lost := before.DeviceID != "" && before.DeviceID != l.DeviceID
	moved := before.CustomerID != "" && before.CustomerID != l.CustomerID
	transferred := before.TransferredTo == "" && l.TransferredTo != ""
	if !lost && !moved && !transferred {
		return nil
	}
	if before.TokenUntil <= o.now.Unix() || l.Version < 2 {
		return nil // no token issued before could still be used
	}
	s := superseded{Version: l.Version, Until: before.TokenUntil}
	var held superseded
	err := o.x.GetJSON(store.SupersededKey(l.ID), &held)
	switch {
	case err == nil:
		s.Version, s.Until = max(s.Version, held.Version), max(s.Until, held.Until)
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	o.rlDirty = true
	if err := o.tell(before.DeviceID); err != nil {
		return err
	}
	return o.x.PutJSON(store.SupersededKey(l.ID), &s)
}
