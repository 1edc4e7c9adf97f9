package ledger

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/limits"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// reissue bumps the license's version and signs a new token for its device
// (or drops the token when it is no longer bound or usable). Callers write
// the license afterwards with putLicense.
func (o *op) reissue(l *License) error {
	if l.Version >= limits.MaxLicenseVersion {
		return fmt.Errorf("%w: license %s has reached the highest version", ErrInvalid, l.ID)
	}
	l.Version++
	return o.issueToken(l)
}

// tokenWindow is the validity window of a token for l issued now.
func (o *op) tokenWindow(l *License) (nb, na int64) {
	nb = l.BoundAt.Unix()
	switch {
	case l.Billing == token.BillingDays:
		na = o.now.Add(dayTokenLifetime).Unix()
	default:
		na = l.End.Unix() // term: the current period; trial: 30 days from first bind
	}
	return nb, na
}

func (o *op) issueToken(l *License) error {
	k := store.TokenKey(l.ID)
	if l.DeviceID == "" || l.terminal() || l.Suspended || l.waitingToStart() {
		return o.x.Delete(k)
	}
	nb, na := o.tokenWindow(l)
	if na <= nb || na <= o.now.Unix() {
		return o.x.Delete(k) // nothing left to authorize
	}
	d, err := o.device(l.DeviceID)
	if err != nil {
		return err
	}
	signer, err := o.lg.keys.Active()
	if err != nil {
		return fmt.Errorf("ledger: signing key: %w", err)
	}
	days := int64(0)
	if l.Billing == token.BillingDays {
		days = min(l.AvailableDays, limits.MaxPrepaidDays)
	}
	tl := token.License{LicenseID: l.ID, Serial: l.Serial, CustomerID: l.CustomerID, DeviceID: d.ID,
		DeviceKey: d.KeyFingerprint, Models: l.Models, Type: l.Type, Billing: l.Billing,
		MaxSamplesPerHour: l.MaxSamplesPerHour, Enforcement: l.Enforcement, Features: l.Features,
		MaxChildren: l.MaxChildren, NotBefore: nb, NotAfter: na, Days: days, DaysThroughSeq: d.LastSeq,
		MaxOfflineSeconds: l.MaxOfflineSeconds, Version: l.Version, IssuedAt: o.now.Unix()}
	text, err := token.IssueLicense(signer, &tl)
	if err != nil {
		return fmt.Errorf("ledger: sign token for %s: %w", l.ID, err)
	}
	if na > l.TokenUntil {
		l.TokenUntil = na
	}
	o.tokenIssued(d)
	if err := o.recordHeld(d, l.ID, na); err != nil {
		return err
	}
	return o.x.PutJSON(k, &LicenseToken{LicenseID: l.ID, DeviceID: d.ID, Version: l.Version,
		NotAfter: unixTime(na), Token: text})
}

// markRevoked lists l in the revocation list until its last token expires.
func (o *op) markRevoked(l *License) error {
	o.rlDirty = true
	return o.x.Put(store.RevokedKey(l.ID), []byte(strconv.FormatInt(l.TokenUntil, 10)))
}

// DeviceTokens returns the current tokens of every license bound to a device.
func (lg *Ledger) DeviceTokens(ctx context.Context, a Actor, deviceID string) ([]LicenseToken, error) {
	out := []LicenseToken{}
	err := lg.view(func(o *op) error {
		if _, err := o.visibleDevice(a, deviceID); err != nil {
			return err
		}
		return o.x.Scan(store.LicenseByDevicePrefix(deviceID), nil, false, func(k, _ []byte) (bool, error) {
			var t LicenseToken
			err := o.x.GetJSON(store.TokenKey(store.LastPart(k)), &t)
			if errors.Is(err, store.ErrNotFound) {
				return true, nil
			}
			if err != nil {
				return false, err
			}
			out = append(out, t)
			return true, nil
		})
	})
	return out, err
}

// currentToken returns the stored token of a license, nil if it has none.
func (o *op) currentToken(licenseID string) (*LicenseToken, error) {
	var t LicenseToken
	err := o.x.GetJSON(store.TokenKey(licenseID), &t)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// LicenseToken returns the current token of one license.
func (lg *Ledger) LicenseToken(ctx context.Context, a Actor, idOrSerial string) (*LicenseToken, error) {
	var out LicenseToken
	err := lg.view(func(o *op) error {
		l, _, err := o.visibleLicense(a, idOrSerial)
		if err != nil {
			return err
		}
		err = o.x.GetJSON(store.TokenKey(l.ID), &out)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%w: license %s has no current token (not bound, or not usable)", ErrNotFound, l.ID)
		}
		return err
	})
	return &out, err
}
