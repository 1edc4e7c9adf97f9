package ledger

import (
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/shared/syncproto"
)

// Deductions are judged at the time the agent made them (deductions.go
// canPayDayAt): one made while the license could pay is charged to it even
// when it is reported after a revocation or suspension; one made after is
// an overdraft. The timeline of these tests: bound at epoch, deduction at
// +1h (before) or +2h30 (after), revoked or suspended at +2h, reported at
// +3h.

type lateCase struct {
	e        *env
	dev, lic string
}

func newLateCase(t *testing.T) *lateCase {
	e := newEnv(t)
	ids, lics := e.syncFleet(1)
	return &lateCase{e: e, dev: ids[0], lic: lics[0]}
}

// deny revokes (vendor) or suspends (the distributor that issued it) the
// license at epoch+2h and moves the clock to epoch+3h.
func (c *lateCase) deny(revoke bool) {
	c.e.t.Helper()
	c.e.clk.Set(epoch.Add(2 * time.Hour))
	var err error
	if revoke {
		_, err = c.e.lg.Revoke(ctx, c.e.root, c.lic)
	} else {
		_, err = c.e.lg.Suspend(ctx, admin("dist"), c.lic)
	}
	if err != nil {
		c.e.t.Fatal(err)
	}
	c.e.clk.Set(epoch.Add(3 * time.Hour))
}

func (c *lateCase) device() *Device {
	c.e.t.Helper()
	d, err := c.e.lg.GetDevice(ctx, SystemActor(), c.dev)
	if err != nil {
		c.e.t.Fatal(err)
	}
	return d
}

func (c *lateCase) syncState() *SyncStatus {
	c.e.t.Helper()
	st, err := c.e.lg.DeviceSyncStatus(ctx, SystemActor(), c.dev)
	if err != nil {
		c.e.t.Fatal(err)
	}
	return st
}

// wantCharged checks the deduction was charged to the license: one day
// less, no overdraft, the device not blacklisted, the deduction listed.
func (c *lateCase) wantCharged() {
	c.e.t.Helper()
	if got := c.e.get(c.lic).AvailableDays; got != 29 {
		c.e.t.Fatalf("license has %d days, want 29 (charged)", got)
	}
	if st := c.syncState(); st.Overdrafts != 0 || st.AckedSeq != 1 {
		c.e.t.Fatalf("sync state %+v, want acked 1 and no overdraft", st.SyncState)
	}
	if d := c.device(); d.Blacklisted {
		c.e.t.Fatalf("device blacklisted: %s", d.BlacklistReason)
	}
	ds, err := c.e.lg.ListDeductions(ctx, SystemActor(), c.lic)
	if err != nil || len(ds) != 1 || ds[0].Failed || ds[0].Seq != 1 || ds[0].DaysBefore != 30 || ds[0].DaysAfter != 29 {
		c.e.t.Fatalf("deductions %+v %v", ds, err)
	}
}

// wantOverdraft checks the deduction was an overdraft: no day taken, the
// device blacklisted, the overdraft recorded.
func (c *lateCase) wantOverdraft() {
	c.e.t.Helper()
	if got := c.e.get(c.lic).AvailableDays; got != 30 {
		c.e.t.Fatalf("license has %d days, want 30 (not charged)", got)
	}
	st := c.syncState()
	if st.Overdrafts != 1 || len(st.OverdraftList) != 1 || !st.OverdraftList[0].Failed {
		c.e.t.Fatalf("sync state %+v %+v, want one overdraft", st.SyncState, st.OverdraftList)
	}
	if d := c.device(); !d.Blacklisted {
		c.e.t.Fatal("device not blacklisted after an overdraft")
	}
}

func (c *lateCase) reconcile(at time.Time) {
	c.e.t.Helper()
	if _, err := c.e.lg.Reconcile(ctx, c.dev, batchReport(c.dev, c.lic, at, 1, 5)); err != nil {
		c.e.t.Fatal(err)
	}
}

func TestDeductionMadeBeforeRevocationIsChargedWhenReportedAfter(t *testing.T) {
	c := newLateCase(t)
	c.deny(true)
	if l := c.e.get(c.lic); l.Status != StatusRevoked || !l.RevokedAt.Equal(epoch.Add(2*time.Hour)) {
		t.Fatalf("license %s revoked at %v, want revoked at +2h", l.Status, l.RevokedAt)
	}
	c.reconcile(epoch.Add(time.Hour))
	c.wantCharged()
	if l := c.e.get(c.lic); l.Status != StatusRevoked {
		t.Fatalf("charging a revoked license changed its status to %s", l.Status)
	}
	if tk, err := c.e.lg.LicenseToken(ctx, SystemActor(), c.lic); err == nil && tk != nil {
		t.Fatalf("a revoked license got a token by a late charge: %+v", tk)
	}
}

// TestDeductionInTheSecondOfRevocationIsCharged: times are whole seconds;
// a deduction stamped with the revocation's second counts as before it.
func TestDeductionInTheSecondOfRevocationIsCharged(t *testing.T) {
	c := newLateCase(t)
	c.deny(true)
	c.reconcile(epoch.Add(2 * time.Hour))
	c.wantCharged()
}

func TestDeductionMadeAfterRevocationIsAnOverdraft(t *testing.T) {
	c := newLateCase(t)
	c.deny(true)
	c.reconcile(epoch.Add(2*time.Hour + time.Second))
	c.wantOverdraft()
}

func TestDeductionMadeBeforeSuspensionIsChargedWhenReportedAfter(t *testing.T) {
	c := newLateCase(t)
	c.deny(false)
	if l := c.e.get(c.lic); l.Status != StatusSuspended || !l.SuspendedAt.Equal(epoch.Add(2*time.Hour)) {
		t.Fatalf("license %s suspended at %v, want suspended at +2h", l.Status, l.SuspendedAt)
	}
	c.reconcile(epoch.Add(time.Hour))
	c.wantCharged()
	if l := c.e.get(c.lic); l.Status != StatusSuspended {
		t.Fatalf("charging a suspended license changed its status to %s", l.Status)
	}
}

func TestDeductionMadeAfterSuspensionIsAnOverdraft(t *testing.T) {
	c := newLateCase(t)
	c.deny(false)
	c.reconcile(epoch.Add(150 * time.Minute))
	c.wantOverdraft()
}

// TestDeductionTimeIsBoundedByServerNow: a deduction dated after the
// server's now (an agent clock ahead) is judged at now, after the
// revocation: an overdraft.
func TestDeductionTimeIsBoundedByServerNow(t *testing.T) {
	c := newLateCase(t)
	c.deny(true)
	c.reconcile(epoch.Add(5 * time.Hour))
	c.wantOverdraft()
}

// TestDeductionBeforeBindIsNotChargedToRevokedLicense: a deduction dated
// before the license was bound to the device was not authorized by it.
func TestDeductionBeforeBindIsNotChargedToRevokedLicense(t *testing.T) {
	c := newLateCase(t)
	c.deny(true)
	c.reconcile(epoch.Add(-time.Hour))
	c.wantOverdraft()
}

// TestSuspendedThenRevokedIsDeniedSinceTheSuspension: revoking a
// suspended license keeps when it was suspended; a deduction between the
// suspension and the revocation is an overdraft, one before both is not.
func TestSuspendedThenRevokedIsDeniedSinceTheSuspension(t *testing.T) {
	for _, tc := range []struct {
		at      time.Duration
		charged bool
	}{{30 * time.Minute, true}, {90 * time.Minute, false}} {
		c := newLateCase(t)
		c.e.clk.Set(epoch.Add(time.Hour))
		if _, err := c.e.lg.Suspend(ctx, admin("dist"), c.lic); err != nil {
			t.Fatal(err)
		}
		c.deny(true)
		l := c.e.get(c.lic)
		if l.Status != StatusRevoked || !l.SuspendedAt.Equal(epoch.Add(time.Hour)) || !l.RevokedAt.Equal(epoch.Add(2*time.Hour)) {
			t.Fatalf("license %s suspended at %v revoked at %v", l.Status, l.SuspendedAt, l.RevokedAt)
		}
		c.reconcile(epoch.Add(tc.at))
		if tc.charged {
			c.wantCharged()
		} else {
			c.wantOverdraft()
		}
	}
}

// TestResumeClearsSuspensionInstant: a resumed license pays as before and
// keeps no suspension instant.
func TestResumeClearsSuspensionInstant(t *testing.T) {
	c := newLateCase(t)
	c.deny(false)
	if _, err := c.e.lg.Resume(ctx, admin("dist"), c.lic); err != nil {
		t.Fatal(err)
	}
	if l := c.e.get(c.lic); !l.SuspendedAt.IsZero() || l.Suspended {
		t.Fatalf("resumed license still suspended at %v", l.SuspendedAt)
	}
	c.reconcile(epoch.Add(150 * time.Minute))
	c.wantCharged()
}

// TestRevokedAtUnknownTimeStaysAnOverdraft: a license revoked before the
// ledger kept the instant (revoked_at absent) is revoked at an unknown
// time: every deduction reported after is an overdraft, as before.
func TestRevokedAtUnknownTimeStaysAnOverdraft(t *testing.T) {
	c := newLateCase(t)
	c.deny(true)
	err := c.e.lg.update(func(o *op) error {
		l, err := o.license(c.lic)
		if err != nil {
			return err
		}
		before := *l
		l.RevokedAt = time.Time{}
		return o.putLicense(&before, l)
	})
	if err != nil {
		t.Fatal(err)
	}
	c.reconcile(epoch.Add(time.Hour))
	c.wantOverdraft()
}

// TestReceiptDeductionMadeBeforeRevocationIsCharged: the air-gap path — a
// usage receipt imported after the revocation, carrying a day deducted
// before it — charges the license, as the online sync does.
func TestReceiptDeductionMadeBeforeRevocationIsCharged(t *testing.T) {
	c := newLateCase(t)
	c.deny(true)
	res, err := c.e.lg.ImportReceipt(ctx, admin("acme"), batchReport(c.dev, c.lic, epoch.Add(time.Hour), 1, 5))
	if err != nil {
		t.Fatal(err)
	}
	if res.NewOverdrafts != 0 || res.State.AckedSeq != 1 {
		t.Fatalf("import %+v", res)
	}
	c.wantCharged()
}

// TestReceiptDeductionMadeAfterRevocationIsAnOverdraft: the same receipt
// with the day deducted after the revocation is an overdraft.
func TestReceiptDeductionMadeAfterRevocationIsAnOverdraft(t *testing.T) {
	c := newLateCase(t)
	c.deny(true)
	res, err := c.e.lg.ImportReceipt(ctx, admin("acme"), batchReport(c.dev, c.lic, epoch.Add(150*time.Minute), 1, 5))
	if err != nil {
		t.Fatal(err)
	}
	if res.NewOverdrafts != 1 {
		t.Fatalf("import %+v, want one new overdraft", res)
	}
	c.wantOverdraft()
}

// forkCase: a device synced seqs 1 and 2 and 50 accepted samples in one
// hour; a restored older copy of it then reports its own seq 2 (another
// time), a new seq 3 and 30 accepted (but 4 refused) in that hour.
func forkCase(t *testing.T) (c *lateCase, hour time.Time, forked *syncproto.Report) {
	c = newLateCase(t)
	c.e.clk.Set(epoch.Add(6 * time.Hour))
	at := epoch.Add(time.Hour)
	hour = at.Truncate(time.Hour)
	first := batchReport(c.dev, c.lic, at, 1, 50)
	second := batchReport(c.dev, c.lic, at.Add(time.Minute), 2, 50)
	for _, r := range []*syncproto.Report{first, second} {
		if _, err := c.e.lg.Reconcile(ctx, c.dev, r); err != nil {
			t.Fatal(err)
		}
	}
	forked = batchReport(c.dev, c.lic, at.Add(2*time.Minute), 2, 30)
	forked.Deductions = append(forked.Deductions, batchReport(c.dev, c.lic, at.Add(3*time.Minute), 3, 0).Deductions...)
	forked.Counts[0].Refused = 4
	forked.Counts = append(forked.Counts, syncproto.HourlyCount{DeviceID: c.dev, Hour: hour.Add(time.Hour).Unix(), Accepted: 7})
	return c, hour, forked
}

// wantForkApplied checks what a forked report with a lower count leaves:
// the fork recorded and its day charged again (a day used twice is paid
// twice), the new seq charged, the hour kept at the highest of each
// field, the next hour written, the conflict noted.
func (c *lateCase) wantForkApplied(hour time.Time) {
	c.e.t.Helper()
	st := c.syncState()
	if st.Forks != 1 || len(st.ForkList) != 1 || st.ForkList[0].Seq != 2 {
		c.e.t.Fatalf("forks %d %+v, want seq 2 recorded", st.Forks, st.ForkList)
	}
	if st.HighestSeq != 3 || st.AckedSeq != 3 {
		c.e.t.Fatalf("sync state %+v, want seq 3 applied", st.SyncState)
	}
	if got := c.e.get(c.lic).AvailableDays; got != 26 {
		c.e.t.Fatalf("license has %d days, want 26 (seqs 1, 2, 3 and the forked 2 charged once each)", got)
	}
	if ch := st.ForkList[0].Charge; ch == nil || ch.Failed || ch.LicenseID != c.lic || ch.Fork == "" {
		c.e.t.Fatalf("fork charge %+v, want a day of %s", ch, c.lic)
	}
	if len(st.Hourly) != 2 {
		c.e.t.Fatalf("hourly %+v", st.Hourly)
	}
	if h := st.Hourly[0]; h.Hour != hour.Unix() || h.Accepted != 50 || h.Refused != 4 {
		c.e.t.Fatalf("hour kept as %+v, want accepted 50 (held) and refused 4 (reported)", h)
	}
	if h := st.Hourly[1]; h.Accepted != 7 {
		c.e.t.Fatalf("next hour %+v, want accepted 7", h)
	}
	if st.CountConflicts != 1 || len(st.ForkedHours) != 1 || st.ForkedHours[0] != hour.Unix() {
		c.e.t.Fatalf("conflicts %d hours %v, want the one hour", st.CountConflicts, st.ForkedHours)
	}
}

func TestForkWithLowerHourlyCountIsRecordedNotRefused(t *testing.T) {
	c, hour, forked := forkCase(t)
	if _, err := c.e.lg.Reconcile(ctx, c.dev, forked); err != nil {
		t.Fatalf("forked report refused: %v", err)
	}
	c.wantForkApplied(hour)
	// The same report again changes nothing more: the fork is recorded once.
	if _, err := c.e.lg.Reconcile(ctx, c.dev, forked); err != nil {
		t.Fatal(err)
	}
	if st := c.syncState(); st.Forks != 1 || st.CountConflicts != 1 || len(st.ForkedHours) != 1 || c.e.get(c.lic).AvailableDays != 26 {
		t.Fatalf("again: forks %d conflicts %d %v days %d", st.Forks, st.CountConflicts, st.ForkedHours, c.e.get(c.lic).AvailableDays)
	}
}

func TestForkWithLowerHourlyCountIsRecordedNotRefusedAirgap(t *testing.T) {
	c, hour, forked := forkCase(t)
	res, err := c.e.lg.ImportReceipt(ctx, admin("acme"), forked)
	if err != nil {
		t.Fatalf("forked receipt refused: %v", err)
	}
	if res.NewForks != 1 || res.State.AckedSeq != 3 {
		t.Fatalf("import %+v", res)
	}
	c.wantForkApplied(hour)
}

// TestForkWithLowerHourlyCountInGroupCommit: the same through one group
// commit with another device's report.
func TestForkWithLowerHourlyCountInGroupCommit(t *testing.T) {
	c, hour, forked := forkCase(t)
	batch := []*syncJob{job(forked), job(batchReport(c.dev, c.lic, epoch.Add(4*time.Hour), 4, 1))}
	for _, j := range batch {
		var err error
		if j.enc, err = encodeReport(j.r); err != nil {
			t.Fatal(err)
		}
	}
	c.e.lg.commitSyncBatch(&batch, noMore)
	for i, j := range batch {
		if j.err != nil {
			t.Fatalf("report %d: %v", i, j.err)
		}
	}
	st := c.syncState()
	if st.Forks != 1 || st.HighestSeq != 4 || st.CountConflicts != 1 || st.ForkedHours[0] != hour.Unix() {
		t.Fatalf("sync state %+v", st.SyncState)
	}
}

// TestForkedHoursAreBounded: the sync state lists the latest
// MaxForkedHours conflicting hours, ascending, each once.
func TestForkedHoursAreBounded(t *testing.T) {
	var st SyncState
	for h := int64(1); h <= MaxForkedHours+10; h++ {
		st.addForkedHour(h * 3600)
		st.addForkedHour(h * 3600)
	}
	if len(st.ForkedHours) != MaxForkedHours || st.ForkedHours[0] != 11*3600 || st.ForkedHours[MaxForkedHours-1] != (MaxForkedHours+10)*3600 {
		t.Fatalf("forked hours %v", st.ForkedHours)
	}
	if st.CountConflicts != MaxForkedHours+10 {
		t.Fatalf("conflicts %d, want %d", st.CountConflicts, MaxForkedHours+10)
	}
}

// TestLowerHourlyCountWithoutForkIsStillRefused: a lower count in a report
// whose records are all new or held with the same content is bad input,
// refused whole as before (issue #5).
func TestLowerHourlyCountWithoutForkIsStillRefused(t *testing.T) {
	c, _, forked := forkCase(t)
	forked.Deductions = forked.Deductions[1:] // only the new seq 3
	_, err := c.e.lg.Reconcile(ctx, c.dev, forked)
	wantErr(t, err, ErrCounterWentDown)
	st := c.syncState()
	if st.HighestSeq != 2 || st.CountConflicts != 0 || c.e.get(c.lic).AvailableDays != 28 {
		t.Fatalf("refused report applied something: %+v", st.SyncState)
	}
}
