package ledger

import (
	"context"
	"fmt"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/limits"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// Suspend denies a license until Resume: its token is dropped and its id is
// listed as suspended in the revocation list. An issuer's action (e.g. a
// distributor whose customer does not pay).
func (lg *Ledger) Suspend(ctx context.Context, a Actor, idOrSerial string) (*LicenseView, error) {
	return lg.changeLicense(a, idOrSerial, "license.suspend", func(o *op, l *License, owner *Customer) error {
		if err := o.canIssue(a, owner); err != nil {
			return err
		}
		if err := l.usable(o.now); err != nil {
			return err
		}
		l.Suspended, l.SuspendedAt = true, o.now
		o.rlDirty = true
		if err := o.emitLicense(EventLicenseSuspended, l, l.SuspendedAt.Format(time.RFC3339)); err != nil {
			return err
		}
		if err := o.x.Put(store.SuspendedKey(l.ID), nil); err != nil {
			return err
		}
		if err := o.cutOff(l.DeviceID); err != nil {
			return err
		}
		return o.reissue(l)
	})
}

// Resume lifts a suspension and issues a fresh token if the license is bound.
func (lg *Ledger) Resume(ctx context.Context, a Actor, idOrSerial string) (*LicenseView, error) {
	return lg.changeLicense(a, idOrSerial, "license.resume", func(o *op, l *License, owner *Customer) error {
		if err := o.canIssue(a, owner); err != nil {
			return err
		}
		if !l.Suspended {
			return invalid("license %s is not suspended", l.ID)
		}
		if l.terminal() {
			return l.usable(o.now)
		}
		l.Suspended, l.SuspendedAt = false, time.Time{}
		o.rlDirty = true
		if err := o.emitLicense(EventLicenseResumed, l, o.now.Format(time.RFC3339)); err != nil {
			return err
		}
		if err := o.x.Delete(store.SuspendedKey(l.ID)); err != nil {
			return err
		}
		if err := o.tell(l.DeviceID); err != nil {
			return err
		}
		return o.reissue(l)
	})
}

// Revoke terminates a license at once and for good. Only the vendor may.
func (lg *Ledger) Revoke(ctx context.Context, a Actor, idOrSerial string) (*LicenseView, error) {
	return lg.changeLicense(a, idOrSerial, "license.revoke", func(o *op, l *License, owner *Customer) error {
		if err := needRole(a, RoleAdmin); err != nil {
			return err
		}
		if !a.system && a.CustomerID != o.lg.RootID() {
			return fmt.Errorf("%w: only the vendor revokes licenses", ErrForbidden)
		}
		if l.terminal() {
			return l.usable(o.now)
		}
		l.Revoked, l.RevokedAt = true, o.now
		if l.Suspended { // SuspendedAt stays: denied since the suspension
			l.Suspended = false
			if err := o.x.Delete(store.SuspendedKey(l.ID)); err != nil {
				return err
			}
		}
		if err := o.reissue(l); err != nil { // drops the token
			return err
		}
		if err := o.cutOff(l.DeviceID); err != nil {
			return err
		}
		if err := o.emitLicense(EventLicenseRevoked, l, ""); err != nil {
			return err
		}
		return o.markRevoked(l)
	})
}

// SetRenew switches renewal of a standard term license. On takes effect at
// once; off takes effect at the current end, or at the following end when
// switched inside the cancellation period. It can be switched until the end.
// The owner (or a superior it allows) and the issuing chain may switch it.
func (lg *Ledger) SetRenew(ctx context.Context, a Actor, idOrSerial string, on bool) (*LicenseView, error) {
	return lg.changeLicense(a, idOrSerial, "license.renew", func(o *op, l *License, owner *Customer) error {
		if err := o.canManageOrIssue(a, owner, RoleAdmin); err != nil {
			return err
		}
		if l.Type != token.TypeStandard || l.Billing != token.BillingTerm {
			return fmt.Errorf("%w: only standard term licenses renew", ErrNotRenewable)
		}
		if err := l.usable(o.now); err != nil && l.Status(o.now) != StatusSuspended {
			return err
		}
		if on {
			l.Renew, l.NoRenewFrom = true, time.Time{}
			return nil
		}
		if !l.Renew {
			return nil
		}
		l.switchRenewOff(o.now)
		return nil
	})
}

// AddDays tops up a day license. Days are value: the actor must be in the
// issuing chain and its customer must hold the issuer right, within its
// max_days. An expired day license can never be reactivated: give the
// device a new license instead.
func (lg *Ledger) AddDays(ctx context.Context, a Actor, idOrSerial string, days int64) (*LicenseView, error) {
	if days < 1 || days > limits.MaxPrepaidDays {
		return nil, invalid("days %d out of 1..%d", days, limits.MaxPrepaidDays)
	}
	return lg.changeLicense(a, idOrSerial, "license.add_days", func(o *op, l *License, owner *Customer) error {
		if err := o.canIssue(a, owner); err != nil {
			return err
		}
		iss, err := o.issuer(a)
		if err != nil {
			return err
		}
		if l.Billing != token.BillingDays {
			return fmt.Errorf("%w: %s is a term license", ErrWrongBilling, l.ID)
		}
		if err := l.usable(o.now); err != nil && l.Status(o.now) != StatusSuspended {
			return err
		}
		if l.TotalDays+days > limits.MaxPrepaidDays {
			return invalid("total days would exceed %d", limits.MaxPrepaidDays)
		}
		lim := o.limitsOf(iss)
		if err := lim.allowsDays(iss.ID, l.TotalDays+days); err != nil {
			return err
		}
		l.TotalDays += days
		l.AvailableDays += days
		return o.reissue(l)
	})
}

// LicenseUpdate changes the editable fields of a license; nil fields stay.
type LicenseUpdate struct {
	CustomerDescription    *string
	DistributorDescription *string
}

// UpdateLicense sets descriptions: the customer description by whoever
// manages the owner, the distributor description by the issuing chain only.
func (lg *Ledger) UpdateLicense(ctx context.Context, a Actor, idOrSerial string, u LicenseUpdate) (*LicenseView, error) {
	for _, d := range []*string{u.CustomerDescription, u.DistributorDescription} {
		if d != nil && len(*d) > MaxDescriptionLen {
			return nil, invalid("descriptions are at most %d bytes", MaxDescriptionLen)
		}
	}
	return lg.changeLicense(a, idOrSerial, "license.update", func(o *op, l *License, owner *Customer) error {
		if u.CustomerDescription != nil {
			if err := o.canManageOrIssue(a, owner, RoleAdmin); err != nil {
				return err
			}
			l.CustomerDescription = *u.CustomerDescription
		}
		if u.DistributorDescription != nil {
			if err := o.canIssue(a, owner); err != nil {
				return err
			}
			l.DistributorDescription, l.DescribedBy = *u.DistributorDescription, a.CustomerID
		}
		return nil
	})
}
