package ledger

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/ident"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// Standing is what the ledger says, at this moment, about a device sending
// under one license: the broker consults it at CONNECT (docs/design.md#components).
type Standing struct {
	// CustomerID owns the license and names the device's topics.
	CustomerID string
	// Children are the device's child devices that are not blacklisted (a
	// gateway publishes for them).
	Children []string
	// Until is when the license stops allowing traffic if that is before
	// its token's end: the last paid day of a day license with no days
	// left. Zero otherwise.
	Until time.Time
	// MinVersion is the lowest token version of the license still valid:
	// the revocation list's superseded entry for it, 0 if none.
	MinVersion int64
}

// DeviceStanding reports whether a device may send under a license now: the
// device exists and is not blacklisted, the license is bound to it and is
// usable (not suspended, revoked, transferred or expired).
func (lg *Ledger) DeviceStanding(ctx context.Context, deviceID, licenseID string) (Standing, error) {
	var st Standing
	err := lg.view(func(o *op) error {
		d, err := o.device(deviceID)
		if err != nil {
			return err
		}
		if d.Blacklisted {
			return fmt.Errorf("%w: %s (%s)", ErrBlacklisted, d.ID, d.BlacklistReason)
		}
		if !isUUID(licenseID) {
			return notFound("license", licenseID)
		}
		l, err := o.license(licenseID)
		if err != nil {
			return err
		}
		if l.DeviceID != d.ID {
			return fmt.Errorf("%w: license %s is not bound to device %s", ErrNotBound, l.ID, d.ID)
		}
		if err := l.usable(o.now); err != nil {
			return err
		}
		if l.waitingToStart() {
			return fmt.Errorf("%w: license %s waits for %d child devices", ErrPendingStart, l.ID, l.StartAtChildren)
		}
		st.CustomerID = l.CustomerID
		if l.Billing == token.BillingDays && l.AvailableDays == 0 {
			st.Until = l.PaidUntil
		}
		var s superseded
		switch err := o.x.GetJSON(store.SupersededKey(l.ID), &s); {
		case err == nil:
			st.MinVersion = s.Version
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
		return o.x.Scan(store.GatewayChildPrefix(d.ID), nil, false, func(k, _ []byte) (bool, error) {
			id := store.LastPart(k)
			blacklisted, err := o.x.Has(store.BlacklistKey(id))
			if err != nil {
				return false, err
			}
			if !blacklisted { // a blacklisted child's topics are not granted
				st.Children = append(st.Children, id)
			}
			return true, nil
		})
	})
	slices.Sort(st.Children)
	return st, err
}

// ServiceCustomers returns the customers whose telemetry an application
// holding apiKey may read: the key's customer and its descendants. Any role
// reads telemetry (it is reading); name labels the application and must be
// a valid id. Unknown and revoked keys give ErrUnauthenticated.
func (lg *Ledger) ServiceCustomers(ctx context.Context, name, apiKey string) ([]string, error) {
	if err := ident.CheckID("service name", name); err != nil {
		return nil, invalid("%v", err)
	}
	a, err := lg.Authenticate(ctx, apiKey)
	if err != nil {
		return nil, err
	}
	var ids []string
	err = lg.view(func(o *op) (err error) {
		ids, err = o.subtree(a.CustomerID)
		return err
	})
	return ids, err
}
