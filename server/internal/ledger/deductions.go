package ledger

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// DeductInput is one day deduction reported for a device: its device
// sequence number and when the device made it.
type DeductInput struct {
	DeviceID string
	Seq      int64
	At       time.Time // zero: now
}

// Deduct charges one day for a device (docs/design.md#day-licenses): the bound,
// usable day license with days left and the earliest activation pays; a
// first charge activates it and every charge buys 24 hours from At. If no
// license can pay, the failure is recorded, the device is blacklisted, and
// the error wraps ErrNoDaysLeft. Each (device, seq) is applied once: a
// replay returns the first outcome. Reconcile (device sync, usage
// receipts) charges through the same deductOne.
func (lg *Ledger) Deduct(ctx context.Context, in DeductInput) (*Deduction, error) {
	if in.Seq < 1 {
		return nil, invalid("seq must be at least 1")
	}
	var out Deduction
	err := lg.update(func(o *op) error {
		d, err := o.device(in.DeviceID)
		if err != nil {
			return err
		}
		err = o.x.GetJSON(store.DeductionKey(d.ID, in.Seq), &out)
		if err == nil || !errors.Is(err, store.ErrNotFound) {
			return err // a replay, or a read error
		}
		rec, err := o.deductOne(d, in.Seq, in.At, nil)
		if rec != nil {
			out = *rec
		}
		return err
	})
	if err == nil && out.Failed {
		err = fmt.Errorf("%w: device %s, deduction %d", ErrNoDaysLeft, out.DeviceID, out.Seq)
	}
	return &out, err
}

// deductOne charges one day for a new seq of d (the caller made sure it is
// not held): prefer pays if it can, otherwise the license the ledger's
// order picks. If none can pay, the failed record is kept and the device
// blacklisted (an overdraft). d is written back.
func (o *op) deductOne(d *Device, seq int64, at time.Time, prefer *License) (*Deduction, error) {
	return o.deductDay(d, &Deduction{Seq: seq, DeviceID: d.ID}, at, prefer)
}

// deductDay charges the day rec (Seq and DeviceID set; Fork set for a
// forked day, which is kept with its fork and leaves d's seqs alone),
// which the device dated at, as deductOne does.
func (o *op) deductDay(d *Device, rec *Deduction, at time.Time, prefer *License) (*Deduction, error) {
	rec.At = chargeTime(at, o.now)
	if !rec.At.Equal(at.UTC().Truncate(time.Second)) && !at.IsZero() {
		rec.ReportedAt = at.UTC().Truncate(time.Second)
	}
	l := prefer
	if l == nil || !l.canPayDayAt(rec.At, o.now) {
		var err error
		if l, err = o.payer(d.ID); err != nil {
			return nil, err
		}
	}
	if rec.Fork == "" && rec.Seq > d.LastSeq {
		d.LastSeq = rec.Seq
	}
	if l == nil {
		return rec, o.failDay(d, rec)
	}
	if rec.Fork == "" {
		if err := o.x.PutJSON(store.DeviceKey(d.ID), d); err != nil {
			return nil, err
		}
	}
	return rec, o.charge(l, rec)
}

// chargeTime is when the ledger charges a day the device dated at: the
// device's time (the day's place among its others, and against a
// revocation), but never after now, the server's time at receipt. The
// server cannot check a device's clock: a day dated ahead of it is
// charged now, so that no device buys time that starts in the future. A
// zero at is now.
func chargeTime(at, now time.Time) time.Time {
	at = at.UTC().Truncate(time.Second)
	if at.IsZero() || at.After(now) {
		return now
	}
	return at
}

// failDay keeps rec as a failed deduction of d and blacklists d (docs/design.md#day-licenses:
// when no license can pay, the deduction fails and the device is
// blacklisted until an admin clears it). It charges nothing; d is written
// back. A forked day's record (rec.Fork) is kept with its fork by the
// caller, not under d's seq.
func (o *op) failDay(d *Device, rec *Deduction) error {
	rec.Failed = true
	reason := fmt.Sprintf("no days left (deduction %d)", rec.Seq)
	switch {
	case rec.Fork != "":
		reason = fmt.Sprintf("no days left (deduction %d used a second time)", rec.Seq)
	case rec.Seq > d.LastSeq:
		d.LastSeq = rec.Seq
	}
	if err := o.setBlacklist(SystemActor(), d, true, reason, "device.blacklist"); err != nil {
		return err
	}
	if err := o.emitDeduction(EventDeductionFailed, d, rec); err != nil {
		return err
	}
	if err := o.noticeFailedDay(d, rec); err != nil {
		return err
	}
	if rec.Fork != "" {
		return nil
	}
	return o.x.PutJSON(store.DeductionKey(d.ID, rec.Seq), rec)
}

// canPayDay reports whether l can pay a day now: a usable, started day
// license with days left.
func (l *License) canPayDay(now time.Time) bool {
	return l.Billing == token.BillingDays && l.AvailableDays > 0 && l.usable(now) == nil && !l.waitingToStart()
}

// canPayDayAt reports whether l can pay a day the device deducted at: a
// deduction is judged at the time it was made. A license that can pay now
// can; one revoked or suspended now can still pay a deduction made before
// that instant (the agent held a valid token then), if it is a started day
// license with days left, not transferred, bound to the device at that
// time. The deduction time is the agent's effective time and is trusted
// no later than the server's now; a revocation or suspension at an unknown
// time (before the ledger kept the instant) stays a refusal. Both times
// are whole seconds: a deduction in the very second of the revocation or
// suspension cannot be told from one just before it, and counts as before.
func (l *License) canPayDayAt(at, now time.Time) bool {
	if l.canPayDay(now) {
		return true
	}
	if at.IsZero() || at.After(now) {
		at = now
	}
	if l.Billing != token.BillingDays || l.AvailableDays <= 0 || l.waitingToStart() || l.TransferredTo != "" ||
		l.DeviceID == "" || at.Before(l.BoundAt) {
		return false
	}
	since, known := l.deniedSince()
	return known && !at.After(since)
}

// deniedSince returns the instant from which l has been revoked or
// suspended (the earlier, for a license suspended and then revoked), and
// whether it is known: false for a license neither revoked nor suspended,
// or one denied before the ledger kept the instant.
func (l *License) deniedSince() (time.Time, bool) {
	switch {
	case l.Revoked:
		if l.RevokedAt.IsZero() {
			return time.Time{}, false
		}
		if !l.SuspendedAt.IsZero() && l.SuspendedAt.Before(l.RevokedAt) {
			return l.SuspendedAt, true
		}
		return l.RevokedAt, true
	case l.Suspended:
		return l.SuspendedAt, !l.SuspendedAt.IsZero()
	}
	return time.Time{}, false
}

// payer picks the license that pays the next day for a device, or nil.
func (o *op) payer(deviceID string) (*License, error) {
	var cands []*License
	err := o.x.Scan(store.LicenseByDevicePrefix(deviceID), nil, false, func(k, _ []byte) (bool, error) {
		l, err := o.license(store.LastPart(k))
		if err != nil {
			return false, err
		}
		if l.canPayDay(o.now) {
			cands = append(cands, l)
		}
		return true, nil
	})
	if err != nil || len(cands) == 0 {
		return nil, err
	}
	slices.SortFunc(cands, func(a, b *License) int {
		// Activated first, earliest activation first; then by bind time.
		switch {
		case a.ActivatedAt.IsZero() != b.ActivatedAt.IsZero():
			if a.ActivatedAt.IsZero() {
				return 1
			}
			return -1
		case !a.ActivatedAt.Equal(b.ActivatedAt):
			return a.ActivatedAt.Compare(b.ActivatedAt)
		case !a.BoundAt.Equal(b.BoundAt):
			return a.BoundAt.Compare(b.BoundAt)
		}
		return compareStrings(a.ID, b.ID)
	})
	return cands[0], nil
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// charge takes one day from l for the deduction rec and re-signs l's token.
func (o *op) charge(l *License, rec *Deduction) error {
	before := *l
	rec.LicenseID, rec.DaysBefore = l.ID, l.AvailableDays
	l.AvailableDays--
	rec.DaysAfter = l.AvailableDays
	if rec.At.Before(l.BoundAt) {
		// A day dated before the license was bound to the device (a slow
		// clock) is charged as of the bind: the license pays nothing for
		// time it did not cover, and its activation is never earlier.
		if rec.ReportedAt.IsZero() {
			rec.ReportedAt = rec.At
		}
		rec.At = l.BoundAt
	}
	if l.ActivatedAt.IsZero() {
		l.ActivatedAt = rec.At
	}
	// The day buys the 24 hours after the later of its charge time (never
	// after the server's now, chargeTime) and the end of the days bought
	// before: days never overlap, and a device's clock cannot move them
	// into the future.
	from := rec.At
	if l.PaidUntil.After(from) {
		from = l.PaidUntil
	}
	l.PaidUntil = from.Add(Day)
	rec.PaidUntil = l.PaidUntil
	if err := o.reissue(l); err != nil {
		return err
	}
	if err := o.putLicense(&before, l); err != nil {
		return err
	}
	if rec.Fork != "" { // kept with its fork; listed with the license's days
		if err := o.x.PutJSON(store.ForkChargeByLicenseKey(l.ID, rec.DeviceID, rec.Seq, rec.Fork), rec); err != nil {
			return err
		}
		return o.audit(SystemActor(), "license.deduct", "license", l.ID, l.CustomerID, &before, l)
	}
	if err := o.x.PutJSON(store.DeductionKey(rec.DeviceID, rec.Seq), rec); err != nil {
		return err
	}
	if err := o.x.PutJSON(store.DeductionByLicenseKey(l.ID, rec.DeviceID, rec.Seq), rec); err != nil {
		return err
	}
	return o.audit(SystemActor(), "license.deduct", "license", l.ID, l.CustomerID, &before, l)
}

// ListDeductions returns the deduction records of a visible license: the
// days it paid (fork charges included) and the failed days of the device
// it is bound to since the bind, oldest first.
func (lg *Ledger) ListDeductions(ctx context.Context, a Actor, idOrSerial string) ([]Deduction, error) {
	out := []Deduction{}
	err := lg.view(func(o *op) error {
		l, _, err := o.visibleLicense(a, idOrSerial)
		if err != nil {
			return err
		}
		err = o.x.Scan(store.DeductionByLicensePrefix(l.ID), nil, true, func(_, v []byte) (bool, error) {
			var d Deduction
			if err := jsonUnmarshal(v, &d); err != nil {
				return false, err
			}
			out = append(out, d)
			return true, nil
		})
		if err != nil || l.DeviceID == "" {
			return err
		}
		// A failed day has no payer, so no license index holds it; the
		// license bound to the device when it failed is the one its
		// blacklist reason ("no days left (deduction N)") is about.
		return o.x.Scan(store.DeductionPrefix(l.DeviceID), nil, true, func(_, v []byte) (bool, error) {
			var d Deduction
			if err := jsonUnmarshal(v, &d); err != nil {
				return false, err
			}
			if d.Failed && (d.LicenseID == l.ID || (d.LicenseID == "" && !d.At.Before(l.BoundAt))) {
				out = append(out, d)
			}
			return true, nil
		})
	})
	slices.SortStableFunc(out, func(a, b Deduction) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		return int(a.Seq - b.Seq)
	})
	return out, err
}
