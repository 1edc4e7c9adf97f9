package ledger

import (
	"fmt"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// Capacity licenses (docs/design.md#capacity-licenses). A license may cap the child
// devices of the gateway it is bound to (MaxChildren), and may wait to start
// counting until that gateway first reaches a size (StartAtChildren): until
// then it is pending_start, counts no time, pays no day and has no token.

// reach is how far a device has come: the figures a start condition is
// checked against. Children are counted from the ledger's registered
// devices; a connection count observed by the broker would be a second
// figure here, checked against a second start field.
type reach struct {
	Children int64
}

// startReached reports whether a waiting capacity license may start on a
// device that has reached r.
func (l *License) startReached(r reach) bool {
	return l.waitingToStart() && r.Children >= l.StartAtChildren
}

// begin starts a capacity license at now: it is activated, and a term or
// trial period runs from this instant. Callers reissue and write it.
func (l *License) begin(now time.Time) {
	l.ActivatedAt = now
	switch {
	case l.Type == token.TypeTrial:
		l.Start, l.End = now, now.Add(TrialDays*Day)
	case l.Billing == token.BillingTerm:
		l.Start, l.End = now, PeriodEnd(now, l.DurationMonths, l.Alignment)
	}
}

// reachOf counts what a device has reached.
func (o *op) reachOf(deviceID string) (reach, error) {
	var r reach
	err := o.x.Scan(store.GatewayChildPrefix(deviceID), nil, false, func(_, _ []byte) (bool, error) {
		r.Children++
		return true, nil
	})
	return r, err
}

// boundLicenses returns the licenses bound to a device that still hold it:
// not expired, revoked or transferred (those keep their last device for
// history only).
func (o *op) boundLicenses(deviceID string) ([]*License, error) {
	var out []*License
	err := o.x.Scan(store.LicenseByDevicePrefix(deviceID), nil, false, func(k, _ []byte) (bool, error) {
		l, err := o.license(store.LastPart(k))
		if err != nil {
			return false, err
		}
		switch l.Status(o.now) {
		case StatusExpired, StatusRevoked, StatusTransferred:
		default:
			out = append(out, l)
		}
		return true, nil
	})
	return out, err
}

// checkCapacity refuses to bind l to d when d already has more children
// than l allows, or when l waits for children d can never have.
func (o *op) checkCapacity(l *License, d *Device) error {
	if l.StartAtChildren > 0 && l.ActivatedAt.IsZero() && d.GatewayID != "" {
		return fmt.Errorf("%w: license %s starts at %d child devices; %s is itself a child device and can have none",
			ErrCapacity, l.ID, l.StartAtChildren, d.ID)
	}
	if l.MaxChildren == 0 {
		return nil
	}
	r, err := o.reachOf(d.ID)
	if err != nil {
		return err
	}
	if r.Children > l.MaxChildren {
		return fmt.Errorf("%w: gateway %s has %d child devices, license %s allows %d", ErrCapacity, d.ID, r.Children, l.ID, l.MaxChildren)
	}
	return nil
}

// addChild checks that gateway gw may take one more child device under
// every license it holds, and returns what it reaches with that child and
// those licenses (nothing for a device without a gateway).
func (o *op) addChild(gw string) (reach, []*License, error) {
	if gw == "" {
		return reach{}, nil, nil
	}
	r, err := o.reachOf(gw)
	if err != nil {
		return r, nil, err
	}
	r.Children++
	ls, err := o.boundLicenses(gw)
	if err != nil {
		return r, nil, err
	}
	for _, l := range ls {
		if l.MaxChildren > 0 && r.Children > l.MaxChildren {
			return r, nil, fmt.Errorf("%w: gateway %s has %d child devices, license %s allows %d", ErrCapacity, gw, r.Children-1, l.ID, l.MaxChildren)
		}
	}
	return r, ls, nil
}

// startReachedOn starts every waiting license among ls whose start
// condition r meets, with a new token each, and lets it replace the
// licenses of the same purpose on its device as a bind would have. A
// suspended one starts too (its time runs, as a suspended term license's
// does) and gets its token when resumed.
func (o *op) startReachedOn(a Actor, ls []*License, r reach) error {
	for _, stale := range ls {
		l, err := o.license(stale.ID) // an earlier start may have replaced it
		if err != nil {
			return err
		}
		if !l.startReached(r) || l.terminal() || l.DeviceID != stale.DeviceID {
			continue
		}
		before := *l
		l.begin(o.now)
		if err := o.reissue(l); err != nil {
			return err
		}
		if err := o.putLicense(&before, l); err != nil {
			return err
		}
		if err := o.audit(a, "license.start", "license", l.ID, l.CustomerID, &before, l); err != nil {
			return err
		}
		if _, err := o.replaceOn(a, l, l.DeviceID, false); err != nil {
			return err
		}
	}
	return nil
}
