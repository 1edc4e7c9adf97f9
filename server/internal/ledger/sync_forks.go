package ledger

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
)

// recordFork keeps a conflicting record once per distinct content and,
// when it is a day the device used (not a failed record), charges that
// day again: a day used twice is paid twice (docs/design.md#trust-boundaries). The charge is made
// in the same transaction as the fork key, so each distinct forked record
// is charged exactly once however often, in whatever order and through
// whichever report (sync or receipt) it comes.
func (o *op) recordFork(dp *devPlan, held, rd *syncproto.Deduction) error {
	d, st := dp.d, &dp.st
	b, err := json.Marshal(rd)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(b)
	digest := hex.EncodeToString(sum[:8])
	k := store.ForkKey(d.ID, rd.Seq, digest)
	if seen, err := o.x.Has(k); err != nil || seen {
		return err
	}
	st.Forks++
	f := Fork{Seq: rd.Seq, At: o.now, Held: *held, Reported: *rd}
	if err := o.emitDeduction(EventSyncFork, d, &Deduction{Seq: rd.Seq, LicenseID: rd.LicenseID, Fork: digest}); err != nil {
		return err
	}
	if !rd.Failed {
		if f.Charge, err = o.chargeFork(dp, rd, digest); err != nil {
			return err
		}
	}
	switch {
	case f.Charge == nil:
		o.lg.log.Warn("sync fork: a seq reported twice with other content; the forked record used no day", "device_id", d.ID, "seq", rd.Seq)
	case f.Charge.Failed:
		st.Overdrafts++
		if err := o.emitDeduction(EventSyncOverdraft, d, f.Charge); err != nil {
			return err
		}
		o.lg.log.Warn("sync fork: a day used twice, nothing can pay it: device blacklisted", "device_id", d.ID, "seq", rd.Seq)
	default:
		o.lg.log.Warn("sync fork: a day used twice, charged again", "device_id", d.ID, "seq", rd.Seq, "license_id", f.Charge.LicenseID)
	}
	if err := o.x.PutJSON(k, &f); err != nil {
		return err
	}
	return o.audit(SystemActor(), "device.sync_fork", "device", d.ID, d.CustomerID, held, &f)
}

// chargeFork charges the day of a forked record like a new deduction: the
// license it names if that can pay it (bound to the device, judged at the
// day's time), otherwise the ledger's order; if nothing can pay, an
// overdraft that blacklists the device. A license the record names that
// is no longer the device's does not refuse the report: the record is old.
func (o *op) chargeFork(dp *devPlan, rd *syncproto.Deduction, digest string) (*Deduction, error) {
	d := dp.d
	l := dp.lics[rd.LicenseID]
	if l == nil {
		var err error
		switch l, err = o.license(rd.LicenseID); {
		case errors.Is(err, ErrNotFound) || err == nil && l.DeviceID != d.ID:
			l = nil
		case err != nil:
			return nil, err
		default:
			dp.lics[l.ID] = l
		}
	}
	rec, err := o.deductDay(d, &Deduction{Seq: rd.Seq, DeviceID: d.ID, Fork: digest}, time.Unix(rd.At, 0), l)
	if err != nil {
		return nil, err
	}
	if rec.LicenseID != "" && (l == nil || rec.LicenseID != l.ID) {
		delete(dp.lics, rec.LicenseID) // charged through a copy of its own
	}
	return rec, nil
}
