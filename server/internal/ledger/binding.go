package ledger

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/ident"
	"github.com/tollgate-iot/tollgate/shared/limits"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// BindInput binds a license to a device.
type BindInput struct {
	DeviceID string
	// ExpireReplaced switches renewal off on licenses this bind replaces,
	// so that they end at their period end instead of renewing.
	ExpireReplaced bool
}

// BindResult is the bound license, the licenses it replaced and its token.
type BindResult struct {
	License  LicenseView
	Replaced []LicenseView
	// Token is nil while a capacity license waits for its start.
	Token *LicenseToken
}

// samePurpose reports whether binding b replaces a on a device: both are
// term licenses (standard or trial) with the same feature set. Day licenses
// never replace each other; they stack and are charged earliest activation
// first.
func samePurpose(a, b *License) bool {
	return a.Billing == token.BillingTerm && b.Billing == token.BillingTerm && slices.Equal(a.Features, b.Features)
}

// Bind binds a license to a device (docs/design.md#binding): the model must match
// the range, a license serves one device, a locked, expired, suspended,
// revoked or transferred license cannot be bound, a license of the same
// purpose already on the device is replaced (by a capacity license only
// when it starts), and a superior's license bound
// to a sub-customer's device passes to that sub-customer. The first bind of
// a term license activates it; a trial's 30 days start there.
func (lg *Ledger) Bind(ctx context.Context, a Actor, idOrSerial string, in BindInput) (*BindResult, error) {
	if err := ident.CheckID("device_id", in.DeviceID); err != nil {
		return nil, invalid("%v", err)
	}
	var out BindResult
	err := lg.update(func(o *op) error {
		l, owner, err := o.visibleLicense(a, idOrSerial)
		if err != nil {
			return err
		}
		if err := o.canManage(a, owner, RoleOperator); err != nil {
			return err
		}
		d, err := o.visibleDevice(a, in.DeviceID)
		if err != nil {
			return err
		}
		return o.bind(a, l, owner, d, in.ExpireReplaced, &out)
	})
	return &out, err
}

// bind binds l (owned by owner, which the caller may manage) to d, which
// the caller may see, under every rule of Bind.
func (o *op) bind(a Actor, l *License, owner *Customer, d *Device, expireReplaced bool, out *BindResult) error {
	if err := o.checkBindable(l, d); err != nil {
		return err
	}
	var err error
	if l.DeviceID == d.ID { // already there: nothing changes
		out.License = o.licenseView(a, l)
		out.Token, err = o.currentToken(l.ID)
		return err
	}
	devOwner, err := o.customer(d.CustomerID)
	if err != nil {
		return err
	}
	handoff := devOwner.ID != owner.ID
	if handoff && !slices.Contains(devOwner.Path, owner.ID) {
		return fmt.Errorf("%w: device %s belongs to customer %s, outside the subtree of license owner %s", ErrForbidden, d.ID, devOwner.ID, owner.ID)
	}
	before := *l
	if err := o.attach(a, l, d, owner, devOwner); err != nil {
		return err
	}
	if !l.waitingToStart() { // a pending license replaces nothing until it starts
		if out.Replaced, err = o.replaceOn(a, l, d.ID, expireReplaced); err != nil {
			return err
		}
	}
	n, err := o.countUpTo(store.LicenseByDevicePrefix(d.ID), limits.MaxLicensesPerDevice+1)
	if err != nil {
		return err
	}
	if n > limits.MaxLicensesPerDevice {
		return fmt.Errorf("%w: device %s already holds %d licenses, the most its agent keeps; unbind one first",
			ErrCapacity, d.ID, limits.MaxLicensesPerDevice)
	}
	out.License = o.licenseView(a, l)
	if out.Token, err = o.currentToken(l.ID); err != nil {
		return err
	}
	return o.audit(a, "license.bind", "license", l.ID, l.CustomerID, &before, l)
}

// attach binds l to d, hands it to the device's owner if that is a
// sub-customer, activates a term license on its first bind (a capacity
// license only if d has reached its start condition) and signs the token.
func (o *op) attach(a Actor, l *License, d *Device, owner, devOwner *Customer) error {
	before := *l
	if devOwner.ID != owner.ID {
		org, err := o.meet(o.origin(l), devOwner.ID)
		if err != nil {
			return err
		}
		l.CustomerID, l.Origin = devOwner.ID, org
		if err := o.recordSale(a, SaleBindHandoff, owner.ID, devOwner.ID, []string{l.ID}); err != nil {
			return err
		}
	}
	l.DeviceID, l.BoundAt = d.ID, o.now
	if l.waitingToStart() {
		r, err := o.reachOf(d.ID)
		if err != nil {
			return err
		}
		if l.startReached(r) {
			l.begin(o.now)
		}
	} else if l.ActivatedAt.IsZero() && l.Billing == token.BillingTerm {
		l.ActivatedAt = o.now
		if l.Type == token.TypeTrial {
			l.Start, l.End = o.now, o.now.Add(TrialDays*Day)
		}
	}
	if err := o.reissue(l); err != nil {
		return err
	}
	return o.putLicense(&before, l)
}

func (o *op) checkBindable(l *License, d *Device) error {
	if l.Locked {
		return fmt.Errorf("%w: %s cannot be bound", ErrLocked, l.ID)
	}
	if err := l.usable(o.now); err != nil {
		return err
	}
	if l.DeviceID != "" && l.DeviceID != d.ID {
		return fmt.Errorf("%w: %s is bound to device %s; unbind it first", ErrBound, l.ID, l.DeviceID)
	}
	if !ident.ModelMatches(l.Models, d.Model) {
		return fmt.Errorf("%w: model %s, range %v", ErrModelMismatch, d.Model, l.Models)
	}
	return o.checkCapacity(l, d)
}

// replaceOn unbinds the usable licenses on a device that l replaces.
func (o *op) replaceOn(a Actor, l *License, deviceID string, expire bool) ([]LicenseView, error) {
	var ids []string
	err := o.x.Scan(store.LicenseByDevicePrefix(deviceID), nil, false, func(k, _ []byte) (bool, error) {
		ids = append(ids, store.LastPart(k))
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	var out []LicenseView
	for _, id := range ids {
		old, err := o.license(id)
		if err != nil {
			return nil, err
		}
		if old.ID == l.ID || old.usable(o.now) != nil || !samePurpose(old, l) {
			continue
		}
		oldOwner, err := o.customer(old.CustomerID)
		if err != nil {
			return nil, err
		}
		if err := o.canManage(a, oldOwner, RoleOperator); err != nil {
			return nil, fmt.Errorf("replacing license %s: %w", old.ID, err)
		}
		before := *old
		if expire && old.renewsAt(old.End) {
			old.switchRenewOff(o.now)
		}
		if err := o.unbind(a, &before, old, "license.replace"); err != nil {
			return nil, err
		}
		out = append(out, o.licenseView(a, old))
	}
	return out, nil
}

// unbind detaches l from its device; before is l's state before the
// caller's own changes, for the audit log.
func (o *op) unbind(a Actor, before, l *License, action string) error {
	l.DeviceID, l.BoundAt = "", time.Time{}
	if err := o.reissue(l); err != nil {
		return err
	}
	if err := o.putLicense(before, l); err != nil {
		return err
	}
	return o.audit(a, action, "license", l.ID, l.CustomerID, before, l)
}

// Unbind detaches a license from its device. An activated license becomes
// deactivated and can serve another device; a never-activated one is unused
// again. Its time keeps running (term, trial) and it is not charged (days).
func (lg *Ledger) Unbind(ctx context.Context, a Actor, idOrSerial string) (*LicenseView, error) {
	var out LicenseView
	err := lg.update(func(o *op) error {
		l, owner, err := o.visibleLicense(a, idOrSerial)
		if err != nil {
			return err
		}
		if err := o.canManage(a, owner, RoleOperator); err != nil {
			return err
		}
		if l.DeviceID == "" {
			return fmt.Errorf("%w: %s", ErrNotBound, l.ID)
		}
		before := *l
		if err := o.unbind(a, &before, l, "license.unbind"); err != nil {
			return err
		}
		out = o.licenseView(a, l)
		return nil
	})
	return &out, err
}

// switchRenewOff turns renewal off. Inside the cancellation period before
// the current end, the license still renews once and ends at the following
// end (docs/design.md#term-licenses).
func (l *License) switchRenewOff(now time.Time) {
	l.Renew = false
	deadline := l.End.Add(-time.Duration(l.CancellationDays) * Day)
	if now.After(deadline) {
		l.NoRenewFrom = PeriodEnd(l.End, l.DurationMonths, l.Alignment)
	} else {
		l.NoRenewFrom = l.End
	}
}
