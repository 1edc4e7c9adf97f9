package ledger

import (
	"slices"
	"testing"

	"github.com/tollgate-iot/tollgate/shared/token"
)

func TestDayDeductionChargesEarliestActivationFirst(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, _ := e.tree()
	e.device(acme, "acme", "dev-1", "sensor-a")
	e.device(acme, "acme", "dev-2", "sensor-a")
	older := e.create(dist, days("acme", 2))
	newer := e.create(dist, days("acme", 5))
	// newer is activated first, on dev-2, then moved to dev-1.
	e.bind(acme, newer.ID, "dev-2")
	if _, err := e.lg.Deduct(ctx, DeductInput{DeviceID: "dev-2", Seq: 1}); err != nil {
		t.Fatal(err)
	}
	e.lg.Unbind(ctx, acme, newer.ID)
	e.clk.Advance(Day)
	e.bind(acme, older.ID, "dev-1")
	e.bind(acme, newer.ID, "dev-1")
	if st := e.status(older.ID); st != StatusInactive {
		t.Fatalf("bound, never charged day license is %s, want inactive", st)
	}
	tests := []struct {
		name string
		seq  int64
		want string
	}{
		{"earliest-activation-pays", 1, newer.ID},
		{"still-earliest", 2, newer.ID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := e.lg.Deduct(ctx, DeductInput{DeviceID: "dev-1", Seq: tc.seq})
			if err != nil || d.LicenseID != tc.want {
				t.Fatalf("deduction %d charged %q (%v), want %s", tc.seq, d.LicenseID, err, tc.want)
			}
			e.clk.Advance(Day)
		})
	}
	recs, err := e.lg.ListDeductions(ctx, acme, newer.ID)
	if err != nil || len(recs) != 3 || recs[2].DaysBefore != 3 || recs[2].DaysAfter != 2 {
		t.Fatalf("deduction records %+v, %v", recs, err)
	}
}

func TestDeductionOfUnactivatedLicenseActivatesItAndBuys24Hours(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, _ := e.tree()
	e.device(acme, "acme", "dev-1", "sensor-a")
	l := e.create(dist, days("acme", 1))
	e.bind(acme, l.ID, "dev-1")
	at := e.clk.Now()
	if _, err := e.lg.Deduct(ctx, DeductInput{DeviceID: "dev-1", Seq: 1, At: at}); err != nil {
		t.Fatal(err)
	}
	got := e.get(l.ID)
	if !got.ActivatedAt.Equal(at) || !got.PaidUntil.Equal(at.Add(Day)) || got.Status != StatusActive || got.AvailableDays != 0 {
		t.Fatalf("after the last day: %+v", got)
	}
	e.clk.Set(at.Add(Day))
	if st := e.status(l.ID); st != StatusExpired {
		t.Fatalf("after the paid day: %s, want expired", st)
	}
}

func TestFailedDayDeductionBlacklistsDevice(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, _ := e.tree()
	e.device(acme, "acme", "dev-1", "sensor-a")
	l := e.create(dist, days("acme", 1))
	e.bind(acme, l.ID, "dev-1")
	seqBefore := e.revocationList().Seq
	if _, err := e.lg.Deduct(ctx, DeductInput{DeviceID: "dev-1", Seq: 1}); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(Day)
	rec, err := e.lg.Deduct(ctx, DeductInput{DeviceID: "dev-1", Seq: 2})
	wantErr(t, err, ErrNoDaysLeft)
	if !rec.Failed {
		t.Fatalf("failed deduction not recorded as failed: %+v", rec)
	}
	d, _ := e.lg.GetDevice(ctx, acme, "dev-1")
	if !d.Blacklisted || d.BlacklistReason == "" {
		t.Fatalf("device after failed deduction: %+v", d)
	}
	rl := e.revocationList()
	if rl.Seq <= seqBefore || !rl.DeviceBlacklisted("dev-1") {
		t.Fatalf("revocation list seq %d (was %d), blacklist %v", rl.Seq, seqBefore, rl.BlacklistedDevices)
	}
	// An admin adds a new day license and clears the device.
	fresh := e.create(dist, days("acme", 10))
	e.bind(acme, fresh.ID, "dev-1")
	if _, err := e.lg.SetBlacklist(ctx, acme, "dev-1", false, ""); err != nil {
		t.Fatal(err)
	}
	if e.revocationList().DeviceBlacklisted("dev-1") {
		t.Fatal("cleared device still blacklisted")
	}
}

func TestDeductionIsAppliedOncePerDeviceSequence(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, _ := e.tree()
	e.device(acme, "acme", "dev-1", "sensor-a")
	l := e.create(dist, days("acme", 5))
	e.bind(acme, l.ID, "dev-1")
	first, err := e.lg.Deduct(ctx, DeductInput{DeviceID: "dev-1", Seq: 7})
	if err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(Day)
	replay, err := e.lg.Deduct(ctx, DeductInput{DeviceID: "dev-1", Seq: 7})
	if err != nil || *replay != *first {
		t.Fatalf("replay = %+v, %v; want %+v", replay, err, first)
	}
	if got := e.get(l.ID).AvailableDays; got != 4 {
		t.Fatalf("available days after a replay = %d, want 4", got)
	}
	tok, _ := e.lg.LicenseToken(ctx, acme, l.ID)
	trust, _ := e.ks.Trust()
	tl, err := token.ParseLicense(trust, tok.Token)
	if err != nil || tl.Days != 4 || tl.DaysThroughSeq != 7 {
		t.Fatalf("token after deduction: %+v, %v", tl, err)
	}
}

func TestUnboundDayLicenseIsNeverCharged(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, _ := e.tree()
	e.device(acme, "acme", "dev-1", "sensor-a")
	l := e.create(dist, days("acme", 3))
	_, err := e.lg.Deduct(ctx, DeductInput{DeviceID: "dev-1", Seq: 1})
	wantErr(t, err, ErrNoDaysLeft)
	if got := e.get(l.ID); got.AvailableDays != 3 || got.Status != StatusUnused {
		t.Fatalf("unbound license was charged: %+v", got)
	}
}

func TestDayLicensesStackInsteadOfReplacing(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, _ := e.tree()
	e.device(acme, "acme", "dev-1", "sensor-a")
	a := e.create(dist, days("acme", 3))
	b := e.create(dist, days("acme", 3))
	e.bind(acme, a.ID, "dev-1")
	r := e.bind(acme, b.ID, "dev-1")
	if len(r.Replaced) != 0 || e.status(a.ID) != StatusInactive {
		t.Fatalf("binding a second day license replaced %+v", r.Replaced)
	}
}

func TestTopUpIssuesNewTokenVersion(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, _ := e.tree()
	e.device(acme, "acme", "dev-1", "sensor-a")
	l := e.create(dist, days("acme", 3))
	v := e.bind(acme, l.ID, "dev-1").Token.Version
	got, err := e.lg.AddDays(ctx, dist, l.ID, 30)
	if err != nil || got.AvailableDays != 33 || got.TotalDays != 33 {
		t.Fatalf("AddDays = %+v, %v", got, err)
	}
	tok, _ := e.lg.LicenseToken(ctx, acme, l.ID)
	if tok.Version <= v {
		t.Fatalf("token version %d after top-up, was %d", tok.Version, v)
	}
	_, err = e.lg.AddDays(ctx, acme, l.ID, 30) // the customer cannot mint days
	wantErr(t, err, ErrForbidden)
	_, err = e.lg.AddDays(ctx, dist, e.create(dist, std("acme")).ID, 1)
	wantErr(t, err, ErrWrongBilling)
}

func TestSuspendAndResume(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, _ := e.tree()
	e.device(acme, "acme", "dev-1", "sensor-a")
	l := e.create(dist, std("acme"))
	e.bind(acme, l.ID, "dev-1")
	_, err := e.lg.Suspend(ctx, acme, l.ID) // not the issuer
	wantErr(t, err, ErrForbidden)
	if _, err := e.lg.Suspend(ctx, dist, l.ID); err != nil {
		t.Fatal(err)
	}
	if st := e.status(l.ID); st != StatusSuspended || !e.revocationList().LicenseSuspended(l.ID) {
		t.Fatalf("after suspend: %s, list %v", st, e.revocationList().SuspendedLicenses)
	}
	if toks, _ := e.lg.DeviceTokens(ctx, acme, "dev-1"); len(toks) != 0 {
		t.Fatal("suspended license kept its token")
	}
	if _, err := e.lg.Resume(ctx, dist, l.ID); err != nil {
		t.Fatal(err)
	}
	if st := e.status(l.ID); st != StatusActive || e.revocationList().LicenseSuspended(l.ID) {
		t.Fatalf("after resume: %s", st)
	}
	if toks, _ := e.lg.DeviceTokens(ctx, acme, "dev-1"); len(toks) != 1 {
		t.Fatal("resumed license has no token")
	}
}

func TestRevokeIsVendorOnlyAndFinal(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, _ := e.tree()
	e.device(acme, "acme", "dev-1", "sensor-a")
	l := e.create(dist, std("acme"))
	e.bind(acme, l.ID, "dev-1")
	_, err := e.lg.Revoke(ctx, dist, l.ID)
	wantErr(t, err, ErrForbidden)
	if _, err := e.lg.Revoke(ctx, e.root, l.ID); err != nil {
		t.Fatal(err)
	}
	if st := e.status(l.ID); st != StatusRevoked || !e.revocationList().LicenseRevoked(l.ID) {
		t.Fatalf("after revoke: %s", st)
	}
	for name, err := range map[string]error{
		"resume":   func() error { _, err := e.lg.Resume(ctx, dist, l.ID); return err }(),
		"transfer": func() error { _, _, err := e.lg.Transfer(ctx, acme, l.ID, "acme-sub"); return err }(),
		"renew":    func() error { _, err := e.lg.SetRenew(ctx, acme, l.ID, true); return err }(),
	} {
		if err == nil {
			t.Errorf("%s of a revoked license succeeded", name)
		}
	}
	e.lg.Unbind(ctx, acme, l.ID)
	_, err = e.lg.Bind(ctx, acme, l.ID, BindInput{DeviceID: "dev-1"})
	wantErr(t, err, ErrRevoked)
}

func TestTransferMintsNewID(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, _ := e.tree()
	e.device(acme, "acme", "dev-1", "sensor-a")
	l := e.create(dist, std("acme"))
	e.bind(acme, l.ID, "dev-1")
	old, nw, err := e.lg.Transfer(ctx, acme, l.ID, "acme-sub")
	if err != nil {
		t.Fatal(err)
	}
	if nw.ID == l.ID || nw.CustomerID != "acme-sub" || nw.TransferredFrom != l.ID || nw.DeviceID != "" || !nw.End.Equal(l.End) {
		t.Fatalf("new license %+v", nw)
	}
	if old.Status != StatusTransferred || old.TransferredTo != nw.ID {
		t.Fatalf("old license %s → %s", old.Status, old.TransferredTo)
	}
	if !e.revocationList().LicenseRevoked(l.ID) {
		t.Fatal("transferred id not in the revocation list")
	}
	_, _, err = e.lg.Transfer(ctx, acme, l.ID, "acme-sub")
	wantErr(t, err, ErrTransferred)
	e.lg.Unbind(ctx, acme, l.ID)
	_, err = e.lg.Bind(ctx, acme, l.ID, BindInput{DeviceID: "dev-1"})
	wantErr(t, err, ErrTransferred)
	sales, _, _ := e.lg.ListSales(ctx, acme, SaleFilter{})
	if sales[0].Kind != SaleTransfer || !slices.Equal(sales[0].LicenseIDs, []string{l.ID, nw.ID}) {
		t.Fatalf("sales record %+v", sales[0])
	}
}
