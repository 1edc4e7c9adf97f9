package api

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/shared/limits"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// Attacks on sync reconciliation by a device with its own valid key
// (docs/sync.md "What the server believes"): each report is signed with
// the device's registered key and sent through the real router to a real
// ledger on a fake clock.

func (e *syncEnv) license(id string) wire.License {
	e.t.Helper()
	var l wire.License
	e.must(200, "GET", "/v1/licenses/"+id, e.key["root"], nil, &l)
	return l
}

func (e *syncEnv) deductions(lic string) []wire.Deduction {
	e.t.Helper()
	var ds wire.DeductionList
	e.must(200, "GET", "/v1/licenses/"+lic+"/deductions", e.key["root"], nil, &ds)
	return ds.Deductions
}

// wantPaidUntil checks the license's paid-until and what the broker is told
// at CONNECT (ledger.DeviceStanding): traffic allowed until want, not after.
func (e *syncEnv) wantPaidUntil(dev, lic string, want time.Time) {
	e.t.Helper()
	l := e.license(lic)
	if l.PaidUntil == nil || !l.PaidUntil.Equal(want) {
		e.t.Fatalf("paid_until %v, want %v", l.PaidUntil, want)
	}
	st, err := e.lg.DeviceStanding(context.Background(), dev, lic)
	if err != nil || !st.Until.Equal(want) {
		e.t.Fatalf("standing %+v, %v: want traffic until %v", st, err, want)
	}
}

// TestSyncFutureDatedDeductionChargedAtReceipt: a device signs a deduction
// dated ten years ahead on its 1-day license. The day is charged at the
// server's time of receipt and buys the next 24 hours, not ten years.
func TestSyncFutureDatedDeductionChargedAtReceipt(t *testing.T) {
	e := newSyncEnv(t, 1)
	lic, now := e.lic["dev-a"], e.clk.Now().UTC().Truncate(time.Second)
	future := now.AddDate(10, 0, 0)
	r := e.report("dev-a")
	r.Deductions = []syncproto.Deduction{deduction(1, lic, future, 1)}
	e.sync(r)
	e.wantPaidUntil("dev-a", lic, now.Add(24*time.Hour))
	ds := e.deductions(lic)
	if len(ds) != 1 || !ds[0].At.Equal(now) || ds[0].ReportedAt == nil || !ds[0].ReportedAt.Equal(future) ||
		ds[0].PaidUntil == nil || !ds[0].PaidUntil.Equal(now.Add(24*time.Hour)) {
		t.Fatalf("deductions %s, want charged at %v (reported %v)", sprint(ds), now, future)
	}
	// A day later the license has nothing left: the broker refuses it.
	e.clk.Advance(24*time.Hour + time.Second)
	if _, err := e.lg.DeviceStanding(context.Background(), "dev-a", lic); !errors.Is(err, ledger.ErrExpired) {
		t.Fatalf("standing a day later: %v, want %v", err, ledger.ErrExpired)
	}
	if s := e.license(lic).Status; s != "expired" {
		t.Fatalf("status %s, want expired", s)
	}
}

// TestUsageImportFutureDatedDeductionChargedAtImport: the same day in an
// air-gap usage receipt is charged at the server's time of import.
func TestUsageImportFutureDatedDeductionChargedAtImport(t *testing.T) {
	e := newSyncEnv(t, 1)
	lic, now := e.lic["dev-a"], e.clk.Now().UTC().Truncate(time.Second)
	r := e.report("dev-a")
	r.Deductions = []syncproto.Deduction{deduction(1, lic, now.AddDate(10, 0, 0), 1)}
	e.clk.Advance(time.Hour) // imported an hour after it was made
	e.mustImport(e.key["acme"], e.receipt(r))
	e.wantPaidUntil("dev-a", lic, now.Add(25*time.Hour))
}

// TestSyncFastClockAgentDaysChargedBackToBack: an honest agent on a fast
// clock (a demo at --clock-speed) deducts three days in an hour of server
// time, each dated on its clock. All three are charged; they buy 72 hours
// from the server's now, back to back, none starting later.
func TestSyncFastClockAgentDaysChargedBackToBack(t *testing.T) {
	e := newSyncEnv(t, 3)
	lic, now := e.lic["dev-a"], e.clk.Now().UTC().Truncate(time.Second)
	r := e.report("dev-a")
	for i := range 3 {
		r.Deductions = append(r.Deductions, deduction(int64(i+1), lic, now.Add(time.Duration(i+1)*24*time.Hour), int64(3-i)))
	}
	e.sync(r)
	if got := e.availableDays(lic); got != 0 {
		t.Fatalf("%d days left, want 0: every day used is charged", got)
	}
	e.wantPaidUntil("dev-a", lic, now.Add(72*time.Hour))
	for _, d := range e.deductions(lic) {
		if !d.At.Equal(now) {
			t.Fatalf("deduction %s charged at %v, want %v (the server's time at receipt)", sprint(d), d.At, now)
		}
	}
}

// TestSyncPastDatedDeductionBuysNoTimeNow: a device dates its last day a
// year back (a slow clock, or an attempt at a cheap day). It is charged as
// of the license's bind at the earliest, and buys 24 hours from then: the
// device gets no time now from it.
func TestSyncPastDatedDeductionBuysNoTimeNow(t *testing.T) {
	e := newSyncEnv(t, 1)
	lic := e.lic["dev-a"]
	bound := e.clk.Now().UTC().Truncate(time.Second)
	e.clk.Advance(48 * time.Hour)
	r := e.report("dev-a")
	r.Deductions = []syncproto.Deduction{deduction(1, lic, bound.AddDate(-1, 0, 0), 1)}
	e.sync(r)
	l := e.license(lic)
	if l.AvailableDays != 0 || l.PaidUntil == nil || !l.PaidUntil.Equal(bound.Add(24*time.Hour)) || l.Status != "expired" {
		t.Fatalf("license %s: want the day charged as of the bind, paid until %v, expired now", sprint(l), bound.Add(24*time.Hour))
	}
	if ds := e.deductions(lic); len(ds) != 1 || !ds[0].At.Equal(bound) || ds[0].ReportedAt == nil {
		t.Fatalf("deductions %s, want charged at the bind %v", sprint(ds), bound)
	}
	if _, err := e.lg.DeviceStanding(context.Background(), "dev-a", lic); !errors.Is(err, ledger.ErrExpired) {
		t.Fatalf("standing: %v, want %v", err, ledger.ErrExpired)
	}
}

// TestSyncCountPastPhysicalBoundRefused: a count past what a device can do
// in an hour is refused 422 impossible_count, and nothing of the report is
// applied; a count at the bound is taken.
func TestSyncCountPastPhysicalBoundRefused(t *testing.T) {
	e := newSyncEnv(t, 5)
	hour := e.clk.Now().Add(-2 * time.Hour).Truncate(time.Hour).Unix()
	for _, tc := range []struct {
		name string
		c    syncproto.HourlyCount
	}{
		{"accepted", syncproto.HourlyCount{DeviceID: "dev-a", Hour: hour, Accepted: limits.MaxCountPerHour + 1}},
		{"refused", syncproto.HourlyCount{DeviceID: "dev-a", Hour: hour, Refused: 1 << 62}},
		{"child", syncproto.HourlyCount{DeviceID: "child-a", Hour: hour, Accepted: 1 << 62, Overage: 1 << 62}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.snapshot()
			r := e.report("dev-a")
			r.Deductions = []syncproto.Deduction{deduction(1, e.lic["dev-a"], e.clk.Now(), 5)}
			r.Counts = []syncproto.HourlyCount{tc.c}
			code, body := e.post(sign(t, e.dev["dev-a"], r), "text/plain")
			if code != 422 || !strings.Contains(body, `"impossible_count"`) {
				t.Fatalf("%d %s, want 422 impossible_count", code, body)
			}
			if after := e.snapshot(); after != before {
				t.Fatalf("a refused report changed the ledger:\n%s\n%s", before, after)
			}
		})
	}
	r := e.report("dev-a")
	r.Counts = []syncproto.HourlyCount{{DeviceID: "dev-a", Hour: hour, Accepted: limits.MaxCountPerHour, Refused: limits.MaxCountPerHour}}
	e.sync(r)
	if s := e.status("dev-a"); s.Last24h.Accepted != limits.MaxCountPerHour {
		t.Fatalf("last_24h %+v, want the count at the bound kept", s.Last24h)
	}
}

// TestSyncLast24hCannotWrap: three hourly counts of 2^62 would wrap
// last_24h negative; they are refused. The most a device may report in
// every hour of a week sums exactly.
func TestSyncLast24hCannotWrap(t *testing.T) {
	e := newSyncEnv(t, 5)
	now := e.clk.Now().Truncate(time.Hour)
	r := e.report("dev-a")
	for h := 3; h >= 1; h-- {
		r.Counts = append(r.Counts, syncproto.HourlyCount{DeviceID: "dev-a", Hour: now.Add(-time.Duration(h) * time.Hour).Unix(), Accepted: 1 << 62})
	}
	if code, body := e.post(sign(t, e.dev["dev-a"], r), "text/plain"); code != 422 {
		t.Fatalf("%d %s, want 422", code, body)
	}
	r = e.report("dev-a")
	for h := 168; h >= 1; h-- {
		r.Counts = append(r.Counts, syncproto.HourlyCount{DeviceID: "dev-a", Hour: now.Add(-time.Duration(h) * time.Hour).Unix(),
			Accepted: limits.MaxCountPerHour, Overage: limits.MaxCountPerHour, Refused: limits.MaxCountPerHour})
	}
	e.sync(r)
	s := e.status("dev-a")
	if s.Last24h.Accepted != 24*limits.MaxCountPerHour || s.Last7d.Accepted != 168*limits.MaxCountPerHour ||
		s.Last7d.Refused != 168*limits.MaxCountPerHour || s.Last7d.Overage != 168*limits.MaxCountPerHour {
		t.Fatalf("totals 24h %+v 7d %+v", s.Last24h, s.Last7d)
	}
	if s.Last7d.Accepted <= 0 || s.Last7d.Accepted > math.MaxInt64/1024 {
		t.Fatalf("7d total %d is not far inside int64", s.Last7d.Accepted)
	}
}

// restoredCase: dev-a's agent used and synced days 1–5; its data directory
// is then restored from before days 3–5 and, offline, uses three days
// again under seqs 3, 4, 5. restored is that copy's report.
func restoredCase(t *testing.T, days int64) (e *syncEnv, lic string, restored *syncproto.Report) {
	e = newSyncEnv(t, days)
	lic = e.lic["dev-a"]
	t0 := e.clk.Now() // the bind
	e.clk.Advance(10 * 24 * time.Hour)
	orig := e.report("dev-a")
	for i := range int64(5) {
		orig.Deductions = append(orig.Deductions, deduction(i+1, lic, t0.Add(time.Duration(i)*24*time.Hour), days-i))
	}
	e.sync(orig)
	restored = e.report("dev-a")
	for i := int64(2); i < 5; i++ {
		restored.Deductions = append(restored.Deductions, deduction(i+1, lic, t0.Add(time.Duration(i)*24*time.Hour+7*time.Hour), days-i))
	}
	return e, lic, restored
}

// forkAudits returns the device.sync_fork entries the customer's admin
// sees in its audit log.
func (e *syncEnv) forkAudits(cust string) []wire.AuditEntry {
	e.t.Helper()
	var audit wire.AuditList
	e.must(200, "GET", "/v1/audit?limit=100", e.key[cust], nil, &audit)
	var out []wire.AuditEntry
	for _, a := range audit.Entries {
		if a.Action == "device.sync_fork" {
			out = append(out, a)
		}
	}
	return out
}

// TestSyncRestoredAgentChargedTwice: the restored copy's three days are
// charged a second time, once each however often and in whatever order
// they are reported, and each fork is shown with its charge in the sync
// status and the customer's audit log.
func TestSyncRestoredAgentChargedTwice(t *testing.T) {
	e, lic, restored := restoredCase(t, 10)
	if got := e.availableDays(lic); got != 5 {
		t.Fatalf("%d days after the original's five", got)
	}
	e.sync(restored)
	if got := e.availableDays(lic); got != 2 {
		t.Fatalf("%d days left, want 2: three days used twice are charged twice", got)
	}
	s := e.status("dev-a")
	if s.ForkCount != 3 || len(s.Forks) != 3 || s.Overdrafts != 0 {
		t.Fatalf("status %s", sprint(s))
	}
	for i, f := range s.Forks {
		if f.Seq != int64(i+3) || f.Charge == nil || f.Charge.Failed || f.Charge.LicenseID != lic || !f.Charge.Fork ||
			f.Charge.DaysAfter != f.Charge.DaysBefore-1 {
			t.Fatalf("fork %s, want seq %d charged to %s", sprint(f), i+3, lic)
		}
	}
	if a := e.forkAudits("acme"); len(a) != 3 || !strings.Contains(string(a[0].After), `"charge"`) {
		t.Fatalf("audit %s, want three device.sync_fork entries with their charge", sprint(a))
	}
	// Reported again, one record at a time in reverse order, and by a
	// usage receipt: nothing more is charged or recorded.
	for i := len(restored.Deductions) - 1; i >= 0; i-- {
		r := e.report("dev-a")
		r.Deductions = []syncproto.Deduction{restored.Deductions[i]}
		e.sync(r)
	}
	again := e.report("dev-a")
	again.Deductions = restored.Deductions
	e.mustImport(e.key["acme"], e.receipt(again))
	if got, s := e.availableDays(lic), e.status("dev-a"); got != 2 || s.ForkCount != 3 || len(e.forkAudits("acme")) != 3 {
		t.Fatalf("after replays: %d days, %d forks", got, s.ForkCount)
	}
	// The license's deductions list all eight days, the three forks marked.
	ds, forks := e.deductions(lic), 0
	for _, d := range ds {
		if d.Fork {
			forks++
		}
	}
	if len(ds) != 8 || forks != 3 {
		t.Fatalf("deductions %s, want 8 with 3 forks", sprint(ds))
	}
}

// TestSyncRestoredAgentNothingToPayBlacklists: when no license can pay
// the days the restored copy used again, each is an overdraft and the
// device is blacklisted.
func TestSyncRestoredAgentNothingToPayBlacklists(t *testing.T) {
	e, lic, restored := restoredCase(t, 5)
	e.sync(restored)
	if got := e.availableDays(lic); got != 0 {
		t.Fatalf("%d days left", got)
	}
	s := e.status("dev-a")
	if s.ForkCount != 3 || s.Overdrafts != 3 {
		t.Fatalf("status %s, want 3 forks, 3 overdrafts", sprint(s))
	}
	for _, f := range s.Forks {
		if f.Charge == nil || !f.Charge.Failed {
			t.Fatalf("fork %s, want an overdraft", sprint(f))
		}
	}
	var d wire.Device
	e.must(200, "GET", "/v1/devices/dev-a", e.key["root"], nil, &d)
	if !d.Blacklisted {
		t.Fatalf("device %s, want blacklisted", sprint(d))
	}
	if _, err := e.lg.DeviceStanding(context.Background(), "dev-a", lic); !errors.Is(err, ledger.ErrBlacklisted) {
		t.Fatalf("standing: %v, want %v", err, ledger.ErrBlacklisted)
	}
}

// TestSyncForkedFailedRecordChargesNothing: a restored copy that found no
// day and blacklisted itself used nothing: its forked failed record is
// recorded, not charged.
func TestSyncForkedFailedRecordChargesNothing(t *testing.T) {
	e, lic, restored := restoredCase(t, 10)
	at := time.Unix(restored.Deductions[0].At, 0)
	restored.Deductions = []syncproto.Deduction{{Seq: 3, LicenseID: lic, At: at.Unix(), PaidUntil: at.Unix(), Failed: true}}
	e.sync(restored)
	s := e.status("dev-a")
	if got := e.availableDays(lic); got != 5 || s.ForkCount != 1 || s.Forks[0].Charge != nil {
		t.Fatalf("%d days, forks %s", got, sprint(s.Forks))
	}
	raw, _ := json.Marshal(s.Forks[0])
	if strings.Contains(string(raw), `"charge"`) {
		t.Fatalf("fork %s shows a charge", raw)
	}
}

// TestUsageImportCountPastPhysicalBoundRefused: a usage receipt with an
// impossible count is refused the same way, nothing imported.
func TestUsageImportCountPastPhysicalBoundRefused(t *testing.T) {
	e := newSyncEnv(t, 5)
	before := e.snapshot()
	r := e.report("dev-a")
	r.Deductions = []syncproto.Deduction{deduction(1, e.lic["dev-a"], e.clk.Now(), 5)}
	r.Counts = []syncproto.HourlyCount{{DeviceID: "dev-a", Hour: e.clk.Now().Add(-time.Hour).Truncate(time.Hour).Unix(), Accepted: 1 << 62}}
	if code, raw := e.importFile(e.key["acme"], e.receipt(r)); code != 422 || !strings.Contains(string(raw), `"impossible_count"`) {
		t.Fatalf("%d %s, want 422 impossible_count", code, raw)
	}
	if after := e.snapshot(); after != before {
		t.Fatalf("a refused receipt changed the ledger:\n%s\n%s", before, after)
	}
}
