package ledger

import (
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/shared/syncproto"
)

// TestFailedDayReportedByAgentBlacklistsDeviceWithoutCharge: an agent with
// no day left to deduct blacklists itself and records a failed deduction
// (docs/design.md#enforcement-on-the-agent step 4); when that record syncs, the ledger keeps it as a failed
// deduction, charges no license and blacklists the device (docs/design.md#day-licenses). The
// same report again changes nothing.
func TestFailedDayReportedByAgentBlacklistsDeviceWithoutCharge(t *testing.T) {
	e := newEnv(t)
	ids, lics := e.syncFleet(1)
	dev, lic := ids[0], lics[0]
	at := e.clk.Now().Add(-2 * time.Hour)
	r := batchReport(dev, lic, at, 1, 5)
	failedAt := at.Add(time.Hour).Unix()
	r.Deductions = append(r.Deductions, syncproto.Deduction{Seq: 2, LicenseID: lic, At: failedAt, PaidUntil: failedAt, Failed: true})
	for range 2 {
		if _, err := e.lg.Reconcile(ctx, dev, r); err != nil {
			t.Fatal(err)
		}
		if got := e.get(lic).AvailableDays; got != 29 {
			t.Fatalf("license has %d days, want 29: the paid day charged, the failed one not", got)
		}
		d, err := e.lg.GetDevice(ctx, SystemActor(), dev)
		if err != nil || !d.Blacklisted {
			t.Fatalf("device %+v %v, want blacklisted", d, err)
		}
		st, err := e.lg.DeviceSyncStatus(ctx, SystemActor(), dev)
		if err != nil || st.AckedSeq != 2 || st.Overdrafts != 1 || len(st.OverdraftList) != 1 ||
			!st.OverdraftList[0].Failed || st.OverdraftList[0].Seq != 2 {
			t.Fatalf("sync state %+v %+v %v, want acked 2 and the failed day listed once", st.SyncState, st.OverdraftList, err)
		}
	}
}

// TestLicenseDeductionsListTheAgentsFailedDay: the failed day an agent
// records names the license it could not charge; the license's deduction
// list shows it next to the days it paid, as the device's blacklist reason
// ("no days left (deduction 2)") promises.
func TestLicenseDeductionsListTheAgentsFailedDay(t *testing.T) {
	e := newEnv(t)
	ids, lics := e.syncFleet(1)
	dev, lic := ids[0], lics[0]
	at := e.clk.Now().Add(-2 * time.Hour)
	r := batchReport(dev, lic, at, 1, 5)
	failedAt := at.Add(time.Hour).Unix()
	r.Deductions = append(r.Deductions, syncproto.Deduction{Seq: 2, LicenseID: lic, At: failedAt, PaidUntil: failedAt, Failed: true})
	if _, err := e.lg.Reconcile(ctx, dev, r); err != nil {
		t.Fatal(err)
	}
	ds, err := e.lg.ListDeductions(ctx, SystemActor(), lic)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 2 || ds[0].Seq != 1 || ds[0].Failed || ds[1].Seq != 2 || !ds[1].Failed {
		t.Fatalf("deductions of %s: %+v; want seq 1 charged, then seq 2 failed", lic, ds)
	}
}
