package gate

import (
	"time"

	"github.com/tollgate-iot/tollgate/agent/internal/limits"
	"github.com/tollgate-iot/tollgate/agent/internal/store"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// payer picks the license that pays for a sample at eff (step 4 of SPEC
// §3): a usable term license, or a day license with paid time left, or else
// the first day license that can deduct one more day — which it deducts
// durably before returning. With no payer the device blacklists itself.
// d.mu is held.
func (g *Gate) payer(d *Device, lics []*License, usable uint32, eff int64) (*License, Reason) {
	for i, l := range lics {
		if usable&(1<<i) == 0 {
			continue
		}
		if l.Tok.Billing == token.BillingTerm || eff < l.paidUntil {
			return l, OK
		}
	}
	for i, l := range lics {
		if usable&(1<<i) == 0 || l.Available() <= 0 {
			continue
		}
		if err := g.deduct(d, l, eff); err != nil {
			return nil, StorageError
		}
		return l, OK
	}
	g.selfBlacklist(d, lics, usable, eff)
	return nil, NoDays
}

// deduct charges one day of l, durably, and extends its paid time.
func (g *Gate) deduct(d *Device, l *License, eff int64) error {
	effSec := eff / int64(time.Second)
	avail := l.Available()
	rec := store.Deduction{
		Seq:        d.dedSeq + 1,
		DeviceID:   d.ID,
		LicenseID:  l.Tok.LicenseID,
		At:         effSec,
		PaidUntil:  effSec + int64(limits.DayLength/time.Second),
		DaysBefore: avail,
		DaysAfter:  avail - 1,
	}
	if err := g.ledger.AppendDeduction(rec); err != nil {
		g.log.Error("day deduction failed", "device_id", d.ID, "license_id", rec.LicenseID, "seq", rec.Seq, "err", err)
		return err
	}
	d.dedSeq = rec.Seq
	l.charged++
	l.paidFrom, l.paidUntil = rec.At*int64(time.Second), rec.PaidUntil*int64(time.Second)
	g.log.Info("day deducted", "device_id", d.ID, "license_id", rec.LicenseID, "seq", rec.Seq, "days_after", rec.DaysAfter)
	return nil
}

func (g *Gate) selfBlacklist(d *Device, lics []*License, usable uint32, eff int64) {
	var licID string
	for i, l := range lics {
		if usable&(1<<i) != 0 {
			licID = l.Tok.LicenseID
			break
		}
	}
	effSec := eff / int64(time.Second)
	rec := store.SelfBlacklist{Reason: NoDays.String(), LicenseID: licID, At: effSec}
	failed := store.Deduction{Seq: d.dedSeq + 1, DeviceID: d.ID, LicenseID: licID, At: effSec, PaidUntil: effSec, Failed: true}
	if err := g.ledger.SelfBlacklist(d.ID, rec, failed); err != nil {
		// Still refuse: the next sample tries again.
		g.log.Error("self-blacklisting failed", "device_id", d.ID, "err", err)
		return
	}
	d.dedSeq = failed.Seq
	d.failedDays++
	d.selfBlack.Store(true)
	d.blackWhy = rec.Reason
	g.log.Warn("device blacklisted itself: no days left", "device_id", d.ID, "license_id", licID)
}

// FailedDays returns how many days the device failed to pay (each a
// failed deduction record numbered in the same sequence as the paid ones).
func (d *Device) FailedDays() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.failedDays
}

// DeductionSeq returns the device's last deduction sequence.
func (d *Device) DeductionSeq() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.dedSeq
}
