package ledger

import (
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/shared/token"
)

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func TestTermStartsOnFirstOfNextMonth(t *testing.T) {
	tests := []struct {
		name    string
		created time.Time
		want    time.Time
	}{
		{"mid-month", time.Date(2026, 3, 14, 10, 0, 0, 0, time.UTC), date(2026, 4, 1)},
		{"first-of-month", date(2026, 3, 1), date(2026, 4, 1)},
		{"last-second-of-year", time.Date(2026, 12, 31, 23, 59, 59, 0, time.UTC), date(2027, 1, 1)},
		{"non-utc-input", time.Date(2026, 1, 31, 23, 0, 0, 0, time.FixedZone("x", -2*3600)), date(2026, 3, 1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := TermStart(tc.created); !got.Equal(tc.want) {
				t.Fatalf("TermStart(%v) = %v, want %v", tc.created, got, tc.want)
			}
		})
	}
	t.Run("created-license", func(t *testing.T) {
		e := newEnv(t)
		l := e.create(e.root, std("root"))
		if !l.Start.Equal(date(2026, 4, 1)) || !l.End.Equal(date(2027, 4, 1)) || l.DurationMonths != DefaultMonths || !l.Renew {
			t.Fatalf("start %v end %v months %d renew %v, want 2026-04-01, 2027-04-01, 12 and renew on by default", l.Start, l.End, l.DurationMonths, l.Renew)
		}
	})
}

func TestPeriodEndAlignment(t *testing.T) {
	tests := []struct {
		name   string
		start  time.Time
		months int
		align  string
		want   time.Time
	}{
		{"anniversary", date(2026, 4, 1), 12, AlignAnniversary, date(2027, 4, 1)},
		{"anniversary-3-months", date(2026, 11, 1), 3, "", date(2027, 2, 1)},
		{"calendar-rounds-down-to-nearest", date(2026, 4, 1), 12, AlignCalendarYear, date(2027, 1, 1)},
		{"calendar-rounds-up-to-nearest", date(2026, 10, 1), 12, AlignCalendarYear, date(2028, 1, 1)},
		{"calendar-mid-year-rounds-down", date(2026, 7, 1), 12, AlignCalendarYear, date(2027, 1, 1)},
		{"calendar-on-boundary", date(2026, 1, 1), 12, AlignCalendarYear, date(2027, 1, 1)},
		{"calendar-never-before-start", date(2026, 2, 1), 1, AlignCalendarYear, date(2027, 1, 1)},
		{"fiscal-april", date(2026, 5, 1), 12, "fiscal_year:04", date(2027, 4, 1)},
		{"fiscal-october", date(2026, 2, 1), 24, "fiscal_year:10", date(2027, 10, 1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := PeriodEnd(tc.start, tc.months, tc.align); !got.Equal(tc.want) {
				t.Fatalf("PeriodEnd(%v, %d, %s) = %v, want %v", tc.start, tc.months, tc.align, got, tc.want)
			}
		})
	}
	for _, bad := range []string{"fiscal_year:13", "fiscal_year:4", "fiscal_year:", "yearly"} {
		if _, err := ParseAlignment(bad); err == nil {
			t.Errorf("ParseAlignment(%q) accepted", bad)
		}
	}
}

func TestStatusDerivation(t *testing.T) {
	now := date(2026, 6, 1)
	past, future := now.Add(-Day), now.Add(Day)
	term := License{Type: token.TypeStandard, Billing: token.BillingTerm, End: future, Renew: true}
	with := func(f func(l *License)) License { l := term; f(&l); return l }
	tests := []struct {
		name string
		l    License
		want Status
	}{
		{"unused", term, StatusUnused},
		{"inactive/bound-not-activated", License{Type: token.TypeStandard, Billing: token.BillingDays, AvailableDays: 3, DeviceID: "d"}, StatusInactive},
		{"pending-start/capacity-term-bound", License{Type: token.TypeStandard, Billing: token.BillingTerm, Renew: false, StartAtChildren: 3, DeviceID: "d"}, StatusPendingStart},
		{"pending-start/capacity-days-bound", License{Type: token.TypeStandard, Billing: token.BillingDays, AvailableDays: 3, StartAtChildren: 3, DeviceID: "d"}, StatusPendingStart},
		{"unused/capacity-unbound", License{Type: token.TypeStandard, Billing: token.BillingTerm, StartAtChildren: 3}, StatusUnused},
		{"active/capacity-started", License{Type: token.TypeStandard, Billing: token.BillingTerm, StartAtChildren: 3, DeviceID: "d", ActivatedAt: past, End: future}, StatusActive},
		{"active", with(func(l *License) { l.DeviceID, l.ActivatedAt = "d", past }), StatusActive},
		{"deactivated", with(func(l *License) { l.ActivatedAt = past }), StatusDeactivated},
		{"expired/term-no-renew", with(func(l *License) { l.Renew, l.End = false, past }), StatusExpired},
		{"not-expired/term-renewal-due", with(func(l *License) { l.End = past; l.DeviceID, l.ActivatedAt = "d", past }), StatusActive},
		{"expired/trial", License{Type: token.TypeTrial, Billing: token.BillingTerm, ActivatedAt: past.Add(-30 * Day), End: past}, StatusExpired},
		{"expired/days-used-up", License{Billing: token.BillingDays, ActivatedAt: past, DeviceID: "d", PaidUntil: past}, StatusExpired},
		{"active/last-paid-day", License{Billing: token.BillingDays, ActivatedAt: past, DeviceID: "d", PaidUntil: future}, StatusActive},
		{"suspended", with(func(l *License) { l.Suspended = true }), StatusSuspended},
		{"revoked-wins-over-suspended", with(func(l *License) { l.Suspended, l.Revoked = true, true }), StatusRevoked},
		{"transferred", with(func(l *License) { l.TransferredTo = "x" }), StatusTransferred},
		{"expired-wins-over-suspended", with(func(l *License) { l.Suspended, l.Renew, l.End = true, false, past }), StatusExpired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.l.Status(now); got != tc.want {
				t.Fatalf("status = %s, want %s", got, tc.want)
			}
			sk, ok := skeleton(tc.l.summary())
			if !ok || sk.Status(now) != tc.want {
				t.Fatalf("index summary derives %s (ok=%v), want %s", sk.Status(now), ok, tc.want)
			}
			for _, d := range []time.Duration{Day / 2, 2 * Day, 400 * Day} {
				if sk.endsWithin(now, d) != tc.l.endsWithin(now, d) {
					t.Fatalf("endsWithin(%v) differs on the summary", d)
				}
			}
		})
	}
}

func TestTermRenewsAtPeriodEndByScheduler(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, _ := e.tree()
	e.device(acme, "acme", "dev-1", "sensor-a")
	in := std("acme")
	in.Months = 1
	l := e.create(dist, in)
	e.bind(acme, l.ID, "dev-1")
	v0 := e.get(l.ID).Version
	e.clk.Set(date(2026, 5, 1)) // the first period (April) has ended
	renewed, expired, err := e.lg.ApplyDue(ctx)
	if err != nil || renewed != 1 || expired != 0 {
		t.Fatalf("ApplyDue = %d renewed, %d expired, %v", renewed, expired, err)
	}
	got := e.get(l.ID)
	if !got.Start.Equal(date(2026, 5, 1)) || !got.End.Equal(date(2026, 6, 1)) || got.Status != StatusActive {
		t.Fatalf("after renewal: %s %v..%v", got.Status, got.Start, got.End)
	}
	tok, err := e.lg.LicenseToken(ctx, acme, l.ID)
	if err != nil || tok.Version <= v0 || !tok.NotAfter.Equal(date(2026, 6, 1)) {
		t.Fatalf("token after renewal: %+v, %v (old version %d)", tok, err, v0)
	}
}

func TestTermWithRenewOffExpiresAtEnd(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, _ := e.tree()
	e.device(acme, "acme", "dev-1", "sensor-a")
	in := std("acme")
	in.Months, in.Renew = 1, new(bool)
	l := e.create(dist, in)
	e.bind(acme, l.ID, "dev-1")
	e.clk.Set(date(2026, 5, 1))
	if st := e.status(l.ID); st != StatusExpired {
		t.Fatalf("status at end = %s, want expired", st)
	}
	if _, expired, err := e.lg.ApplyDue(ctx); err != nil || expired != 1 {
		t.Fatalf("ApplyDue expired %d, %v", expired, err)
	}
	if _, err := e.lg.LicenseToken(ctx, acme, l.ID); err == nil {
		t.Fatal("an expired license still has a token")
	}
	_, err := e.lg.SetRenew(ctx, acme, l.ID, true)
	wantErr(t, err, ErrExpired)
}

func TestRenewOffInsideCancellationPeriodDefersToFollowingEnd(t *testing.T) {
	tests := []struct {
		name     string
		switchAt time.Time
		wantEnd  time.Time // when the license finally expires
	}{
		{"off-before-period-ends-now", date(2026, 6, 15), date(2026, 7, 1)},
		{"off-inside-period-renews-once", date(2026, 6, 25), date(2026, 8, 1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			dist, acme, _, _ := e.tree()
			in := std("acme")
			in.Months, in.CancellationDays = 1, 10
			l := e.create(dist, in)
			e.clk.Set(date(2026, 6, 2))
			e.lg.ApplyDue(ctx) // April→May→June→July: renewed to end 2026-07-01
			if got := e.get(l.ID); !got.End.Equal(date(2026, 7, 1)) {
				t.Fatalf("end = %v, want 2026-07-01", got.End)
			}
			e.clk.Set(tc.switchAt)
			if _, err := e.lg.SetRenew(ctx, acme, l.ID, false); err != nil {
				t.Fatal(err)
			}
			for d := tc.switchAt; d.Before(tc.wantEnd.Add(2 * Day)); d = d.Add(Day) {
				e.clk.Set(d)
				if _, _, err := e.lg.ApplyDue(ctx); err != nil {
					t.Fatal(err)
				}
				wantSt := StatusUnused
				if !d.Before(tc.wantEnd) {
					wantSt = StatusExpired
				}
				if st := e.status(l.ID); st != wantSt {
					t.Fatalf("on %v: status %s, want %s", d.Format(time.DateOnly), st, wantSt)
				}
			}
		})
	}
}
