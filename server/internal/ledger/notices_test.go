package ledger

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/store"
)

// walkNotices moves the clock in steps to until, running the scheduler's
// notice pass after each, as the scheduler does every minute.
func (e *env) walkNotices(step time.Duration, until time.Time) {
	e.t.Helper()
	for e.clk.Now().Before(until) {
		e.clk.Advance(step)
		for {
			n, err := e.lg.IssueNotices(ctx)
			if err != nil {
				e.t.Fatal(err)
			}
			if n == 0 {
				break
			}
		}
	}
}

func (e *env) notices(a Actor, id string) []Notice {
	e.t.Helper()
	ns, err := e.lg.ListNotices(ctx, a, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return ns
}

func noticeKinds(ns []Notice) []string {
	var out []string
	for _, n := range ns {
		out = append(out, n.Kind)
	}
	return out
}

func renewOff(customer string, months int) LicenseInput {
	in := std(customer)
	in.Months, in.Renew = months, new(bool)
	return in
}

// TestTwelveMonthLicenseRenewOffGetsSixNotices walks a 12-month license
// with renewal off an hour at a time past its end: exactly six notices,
// each issued within the hour it fell due: 30, 15, 7 and 1 days before
// the end, at the end and a day after.
func TestTwelveMonthLicenseRenewOffGetsSixNotices(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, _ := e.tree()
	l := e.create(dist, renewOff("acme", 12))
	end := l.End
	e.walkNotices(time.Hour, end.Add(3*Day))
	ns := e.notices(acme, l.ID)
	want := []string{NoticeExpiring30, NoticeExpiring15, NoticeExpiring7, NoticeExpiring1, NoticeEnded, NoticeReminder}
	if !slices.Equal(noticeKinds(ns), want) {
		t.Fatalf("notices %v, want %v", noticeKinds(ns), want)
	}
	offsets := []time.Duration{-30 * Day, -15 * Day, -7 * Day, -Day, 0, Day}
	for i, n := range ns {
		if !n.End.Equal(end) || !n.DueAt.Equal(end.Add(offsets[i])) || n.IssuedAt.Before(n.DueAt) || n.IssuedAt.Sub(n.DueAt) >= time.Hour {
			t.Fatalf("notice %s: end %v due %v issued %v; want due %v", n.Kind, n.End, n.DueAt, n.IssuedAt, end.Add(offsets[i]))
		}
		if n.Email.State != EmailUndelivered || len(n.Collapsed) != 0 {
			t.Fatalf("notice %s: e-mail %q, collapsed %v", n.Kind, n.Email.State, n.Collapsed)
		}
	}
	if got := e.get(l.ID); !got.NoticeDue.IsZero() {
		t.Fatalf("after the reminder the license still has a notice due at %v", got.NoticeDue)
	}
}

// TestRenewOnVoidsTheRestOfTheNotices: the 30-day warning goes out;
// renewal is switched on before the 15-day one: no more notices, and the
// 30-day warning's e-mail, not yet sent, is void.
func TestRenewOnVoidsTheRestOfTheNotices(t *testing.T) {
	e := newEnv(t)
	e.lg.mail = true
	dist, acme, _, _ := e.tree()
	l := e.create(dist, renewOff("acme", 12))
	e.walkNotices(Day, l.End.Add(-20*Day))
	if got := noticeKinds(e.notices(acme, l.ID)); !slices.Equal(got, []string{NoticeExpiring30}) {
		t.Fatalf("before renew on: %v", got)
	}
	if _, err := e.lg.SetRenew(ctx, acme, l.ID, true); err != nil {
		t.Fatal(err)
	}
	jobs, err := e.lg.ClaimEmails(ctx, 100)
	jobs = slices.DeleteFunc(jobs, func(j EmailJob) bool { return j.Notice.Kind == NoticeMonthlyReport }) // the months walked
	if err != nil || len(jobs) != 0 {
		t.Fatalf("claimed %d e-mails after renew on, %v", len(jobs), err)
	}
	e.walkNotices(Day, l.End.Add(3*Day))
	ns := e.notices(acme, l.ID)
	if len(ns) != 1 || ns[0].Email.State != EmailVoid {
		t.Fatalf("after renew on: %v, e-mail %q", noticeKinds(ns), ns[0].Email.State)
	}
}

// TestTrialNoticesStartAtFirstBind: an unbound trial has no end and gets
// nothing; bound, its 30 days start and the 30-day warning is due at once.
func TestTrialNoticesStartAtFirstBind(t *testing.T) {
	e := newEnv(t)
	_, acme, _, _ := e.tree()
	tr := e.trial("acme")
	e.walkNotices(Day, epoch.Add(60*Day))
	if ns := e.notices(acme, tr.ID); len(ns) != 0 {
		t.Fatalf("unbound trial got %v", noticeKinds(ns))
	}
	e.device(acme, "acme", "d1", "sensor-a")
	e.bind(acme, tr.ID, "d1")
	bound := e.clk.Now()
	e.walkNotices(time.Hour, bound.Add(TrialDays*Day+2*Day))
	ns := e.notices(acme, tr.ID)
	want := []string{NoticeExpiring30, NoticeExpiring15, NoticeExpiring7, NoticeExpiring1, NoticeEnded, NoticeReminder}
	if !slices.Equal(noticeKinds(ns), want) || !ns[0].End.Equal(bound.Add(TrialDays*Day)) {
		t.Fatalf("trial notices %v (end %v), want %v ending %v", noticeKinds(ns), ns[0].End, want, bound.Add(TrialDays*Day))
	}
	if ns[0].IssuedAt.Sub(bound) > time.Hour {
		t.Fatalf("30-day warning of a 30-day trial issued %v after the bind", ns[0].IssuedAt.Sub(bound))
	}
}

// TestDayLicenseProjectedEndWarnings: a 40-day license charged every day
// projects its end 40 days after the first charge; the 30- and 7-day
// warnings come 10 and 33 days in. A top-up of 20 days moves the end: the
// new end's 30-day warning follows (its due time has passed: at once).
func TestDayLicenseProjectedEndWarnings(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, _ := e.tree()
	e.device(acme, "acme", "d1", "sensor-a")
	l := e.create(dist, days("acme", 40))
	e.bind(acme, l.ID, "d1")
	start := e.clk.Now()
	seq := int64(0)
	charge := func(until time.Time) {
		for !e.clk.Now().After(until) {
			seq++
			if _, err := e.lg.Deduct(ctx, DeductInput{DeviceID: "d1", Seq: seq}); err != nil {
				t.Fatal(err)
			}
			e.walkNotices(time.Hour, e.clk.Now().Add(Day))
		}
	}
	charge(start.Add(34 * Day))
	ns := e.notices(acme, l.ID)
	end := start.Add(40 * Day)
	if !slices.Equal(noticeKinds(ns), []string{NoticeDays30, NoticeDays7}) || !ns[0].End.Equal(end) {
		t.Fatalf("day notices %v (end %v), want days_30d and days_7d of %v", noticeKinds(ns), ns[0].End, end)
	}
	for i, off := range []time.Duration{10 * Day, 33 * Day} {
		if d := ns[i].IssuedAt.Sub(start.Add(off)); d < 0 || d >= time.Hour {
			t.Fatalf("%s issued %v after its day", ns[i].Kind, d)
		}
	}
	if _, err := e.lg.AddDays(ctx, dist, l.ID, 20); err != nil {
		t.Fatal(err)
	}
	e.walkNotices(time.Hour, e.clk.Now().Add(2*time.Hour))
	ns = e.notices(acme, l.ID)
	if len(ns) != 3 || ns[2].Kind != NoticeDays30 || !ns[2].End.Equal(end.Add(20*Day)) || !slices.Equal(ns[2].Collapsed, nil) {
		t.Fatalf("after the top-up: %+v", ns)
	}
}

// TestDistributorGetsItsSubtreesNoticesSiblingNothing: the notice e-mail
// goes to the owner's and its distributor's report e-mail; the owner does
// not learn the distributor's address; a sibling cannot read the notices.
func TestDistributorGetsItsSubtreesNoticesSiblingNothing(t *testing.T) {
	e := newEnv(t)
	e.lg.mail = true
	dist, acme, _, beta := e.tree()
	l := e.create(dist, renewOff("acme", 1))
	e.walkNotices(Day, l.End.Add(-29*Day))
	ns := e.notices(dist, l.ID)
	if len(ns) != 1 || !slices.Equal(ns[0].Email.To, []string{"acme@example.test", "dist@example.test"}) || ns[0].Email.State != EmailPending {
		t.Fatalf("distributor reads %+v", ns)
	}
	if ns := e.notices(acme, l.ID); len(ns) != 1 || !slices.Equal(ns[0].Email.To, []string{"acme@example.test"}) {
		t.Fatalf("owner reads recipients %v", ns[0].Email.To)
	}
	if _, err := e.lg.ListNotices(ctx, beta, l.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("sibling reading the notices: %v", err)
	}
	jobs, err := e.lg.ClaimEmails(ctx, 10)
	jobs = slices.DeleteFunc(jobs, func(j EmailJob) bool { return j.Notice.Kind == NoticeMonthlyReport }) // April's reports
	if err != nil || len(jobs) != 1 || len(jobs[0].Notice.Email.To) != 2 {
		t.Fatalf("claimed %+v, %v", jobs, err)
	}
}

// TestServerDownCollapsesMissedWarnings: a server down from the start to
// 3 days before the end sends the 7-day warning once, naming the 30- and
// 15-day ones it replaces, then the 1-day warning on time.
func TestServerDownCollapsesMissedWarnings(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, _ := e.tree()
	l := e.create(dist, renewOff("acme", 3))
	e.clk.Set(l.End.Add(-3 * Day))
	e.walkNotices(time.Hour, l.End.Add(-12*time.Hour))
	ns := e.notices(acme, l.ID)
	if !slices.Equal(noticeKinds(ns), []string{NoticeExpiring7, NoticeExpiring1}) ||
		!slices.Equal(ns[0].Collapsed, []string{NoticeExpiring30, NoticeExpiring15}) {
		t.Fatalf("notices %v, collapsed %v", noticeKinds(ns), ns[0].Collapsed)
	}
}

// TestNoticeEmailRetriedWithBackoffThenFailed: a temporary failure is
// retried after a backoff with the same notice; a permanent one fails it;
// three days of temporary failures fail it too.
func TestNoticeEmailRetriedWithBackoffThenFailed(t *testing.T) {
	e := newEnv(t)
	e.lg.mail = true
	dist, acme, _, _ := e.tree()
	a := e.create(dist, renewOff("acme", 1))
	e.walkNotices(time.Hour, a.End.Add(-29*Day))
	claim := func() []EmailJob { // the license notices (not the monthly reports the walk crosses)
		t.Helper()
		jobs, err := e.lg.ClaimEmails(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		var out []EmailJob
		for _, j := range jobs {
			if j.Notice.Kind != NoticeMonthlyReport {
				out = append(out, j)
			}
		}
		return out
	}
	jobs := claim()
	if len(jobs) != 1 {
		t.Fatalf("claimed %d", len(jobs))
	}
	id := jobs[0].Notice.ID
	if again := claim(); len(again) != 0 {
		t.Fatalf("a claimed e-mail was claimed again within its lease: %d", len(again))
	}
	if err := e.lg.RecordEmail(ctx, id, errors.New("421 try later"), false); err != nil {
		t.Fatal(err)
	}
	n := e.notices(acme, a.ID)[0]
	if n.Email.State != EmailPending || n.Email.Attempts != 1 || n.Email.LastError != "421 try later" ||
		n.Email.NextAt.Sub(e.clk.Now()) < 48*time.Second || n.Email.NextAt.Sub(e.clk.Now()) > 72*time.Second {
		t.Fatalf("after a temporary failure: %+v", n.Email)
	}
	e.clk.Advance(2 * time.Minute)
	if jobs := claim(); len(jobs) != 1 || jobs[0].Notice.ID != id {
		t.Fatalf("retry claimed %+v", jobs)
	}
	// A sender that died after claiming: the lease runs out, claimed again.
	e.clk.Advance(EmailLease + time.Second)
	if jobs := claim(); len(jobs) != 1 || jobs[0].Notice.ID != id {
		t.Fatalf("after the lease: %+v", jobs)
	}
	if err := e.lg.RecordEmail(ctx, id, errors.New("550 no such mailbox"), true); err != nil {
		t.Fatal(err)
	}
	if n := e.notices(acme, a.ID)[0]; n.Email.State != EmailFailed || claim() != nil {
		t.Fatalf("after a permanent failure: %+v", n.Email)
	}

	b := e.create(dist, renewOff("acme", 1))
	e.walkNotices(time.Hour, b.End.Add(-29*Day))
	for i := 0; ; i++ {
		jobs := claim()
		if len(jobs) == 0 {
			e.clk.Advance(time.Hour)
			if i > 500 {
				break
			}
			continue
		}
		if err := e.lg.RecordEmail(ctx, jobs[0].Notice.ID, errors.New("connection refused"), false); err != nil {
			t.Fatal(err)
		}
	}
	nb := e.notices(acme, b.ID)[0]
	if nb.Email.State != EmailFailed || nb.Email.Attempts < 10 || !strings.Contains(nb.Email.LastError, "refused") {
		t.Fatalf("after days of failures: %+v", nb.Email)
	}
}

// TestEmailBackoffDoublesWithJitter: 1, 2, 4 … minutes up to 6 hours, each
// within ±20 %.
func TestEmailBackoffDoublesWithJitter(t *testing.T) {
	for attempts, want := range map[int]time.Duration{1: time.Minute, 2: 2 * time.Minute, 4: 8 * time.Minute, 30: 6 * time.Hour} {
		for range 50 {
			if d := emailBackoff(attempts); d < want-want/5 || d > want+want/5 {
				t.Fatalf("backoff after %d attempts = %v, want %v ±20%%", attempts, d, want)
			}
		}
	}
}

func TestNoticeTextNamesTheEnd(t *testing.T) {
	end := time.Date(2027, 3, 14, 0, 0, 0, 0, time.UTC)
	for kind, want := range map[string]string{
		NoticeExpiring7: "License TG-1 ends in 7 days, on 2027-03-14",
		NoticeEnded:     "License TG-1 ends today, 2027-03-14",
		NoticeReminder:  "License TG-1 ended on 2027-03-14: renew it to go on",
		NoticeDays30:    "License TG-1 runs out of days within 30 days, on 2027-03-14",
	} {
		if got := noticeText(&Notice{Serial: "TG-1", Kind: kind, End: end}); got != want {
			t.Errorf("%s: %q, want %q", kind, got, want)
		}
	}
}

// TestNoticesSeededWithoutMailingThePast: a store from before notices
// (no notice fields, no index) is scheduled once at open: a license 3
// days from its end gets its 1-day warning on time, not the 30-, 15- and
// 7-day ones late.
func TestNoticesSeededWithoutMailingThePast(t *testing.T) {
	r := newReopenable(t)
	e := r.e
	dist, acme, _, _ := e.tree()
	l := e.create(dist, renewOff("acme", 1))
	// Make the store one from before notices.
	err := r.db.Update(func(x *store.Txn) error {
		var raw License
		if err := x.GetJSON(store.LicenseKey(l.ID), &raw); err != nil {
			return err
		}
		if err := x.Delete(store.NoticeDueKey(raw.NoticeDue.Unix(), l.ID)); err != nil {
			return err
		}
		raw.NoticeDue, raw.NoticeEnd, raw.NoticeStage = time.Time{}, time.Time{}, 0
		if err := x.PutJSON(store.LicenseKey(l.ID), &raw); err != nil {
			return err
		}
		return x.Delete(store.NoticesSeededKey())
	})
	if err != nil {
		t.Fatal(err)
	}
	e.clk.Set(l.End.Add(-3 * Day))
	r.reopen()
	e.walkNotices(time.Hour, l.End.Add(-12*time.Hour))
	if got := noticeKinds(e.notices(acme, l.ID)); !slices.Equal(got, []string{NoticeExpiring1}) {
		t.Fatalf("after the upgrade: %v, want only the 1-day warning", got)
	}
}

// TestFailedDayNotice: a device whose day no license can pay gets one
// deduction_failed notice, to its owner and the customer above it,
// listed with the customer's notices; replaying the deduction makes no
// second one.
func TestFailedDayNotice(t *testing.T) {
	e := newEnv(t)
	e.lg.mail = true
	dist, acme, _, beta := e.tree()
	e.device(acme, "acme", "d1", "sensor-a")
	l := e.create(dist, days("acme", 1))
	e.bind(acme, l.ID, "d1")
	for seq := int64(1); seq <= 2; seq++ {
		if _, err := e.lg.Deduct(ctx, DeductInput{DeviceID: "d1", Seq: seq}); err != nil && seq == 1 {
			t.Fatal(err)
		}
		e.clk.Advance(Day)
	}
	if _, err := e.lg.Deduct(ctx, DeductInput{DeviceID: "d1", Seq: 2}); !errors.Is(err, ErrNoDaysLeft) {
		t.Fatalf("replay of the failed day: %v", err)
	}
	ns, err := e.lg.ListCustomerNotices(ctx, dist, "acme")
	if err != nil || len(ns) != 1 {
		t.Fatalf("acme's notices: %+v, %v", ns, err)
	}
	n := ns[0]
	if n.Kind != NoticeDeductionFailed || n.DeviceID != "d1" || n.Email.State != EmailPending ||
		!slices.Equal(n.Email.To, []string{"acme@example.test", "dist@example.test"}) || !strings.Contains(n.Summary(), "Device d1 could not pay") {
		t.Fatalf("notice %+v (%s)", n, n.Summary())
	}
	if _, err := e.lg.ListCustomerNotices(ctx, beta, "acme"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("sibling: %v", err)
	}
	jobs, _ := e.lg.ClaimEmails(ctx, 10)
	if len(jobs) != 1 || jobs[0].Notice.ID != n.ID {
		t.Fatalf("a failed day's notice is never void: claimed %+v", jobs)
	}
}
