package ledger

import (
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/keys"
	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/clock"
)

func (e *env) history(a Actor, id string) []HistoryEntry {
	e.t.Helper()
	es, next, err := e.lg.ListLicenseHistory(ctx, a, id, "", MaxPageSize)
	if err != nil || next != "" {
		e.t.Fatalf("ListLicenseHistory %s: %v (next %q)", id, err, next)
	}
	return es
}

func kinds(es []HistoryEntry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Kind + ":" + e.From + ">" + e.To
	}
	return out
}

func findKind(es []HistoryEntry, kind string) []HistoryEntry {
	var out []HistoryEntry
	for _, e := range es {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

// A one-month license created on 14 March starts on 1 April and renews on
// 1 May and 1 June; a report of May lists the May renewal only, one of
// June the June one; a license with renewal off never appears.
func TestRenewalReportPeriod(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, beta := e.tree()
	in := std("acme")
	in.Months = 1
	in.DistributorDescription = "PO-17"
	l := e.create(dist, in)
	off := false
	in.Renew, in.DistributorDescription = &off, ""
	e.create(dist, in)
	e.clk.Set(date(2026, 5, 1).Add(time.Hour))
	if r, _, err := e.lg.ApplyDue(ctx); err != nil || r != 1 {
		t.Fatalf("ApplyDue in May: renewed %d, %v", r, err)
	}
	e.clk.Set(date(2026, 6, 3)) // the scheduler ran two days late
	if r, _, err := e.lg.ApplyDue(ctx); err != nil || r != 1 {
		t.Fatalf("ApplyDue in June: renewed %d, %v", r, err)
	}
	report := func(a Actor, from, to time.Time, customer string) []RenewalRow {
		t.Helper()
		rows, _, err := e.lg.ReportRenewals(ctx, a, RenewalQuery{From: from, To: to, Customer: customer})
		if err != nil {
			t.Fatalf("ReportRenewals: %v", err)
		}
		return rows
	}
	may := report(dist, date(2026, 5, 1), date(2026, 6, 1), "")
	if len(may) != 1 || may[0].LicenseID != l.ID || !may[0].PeriodStart.Equal(date(2026, 5, 1)) || !may[0].PeriodEnd.Equal(date(2026, 6, 1)) {
		t.Fatalf("May renewals = %+v, want %s for 2026-05-01..2026-06-01", may, l.ID)
	}
	if got := may[0].Chain; len(got) != 2 || got[0] != "acme" || got[1] != "dist" {
		t.Fatalf("chain = %v, want [acme dist]", got)
	}
	if may[0].DistributorDescription != "PO-17" {
		t.Fatalf("the issuer lost its description: %+v", may[0])
	}
	june := report(acme, date(2026, 6, 1), date(2026, 7, 1), "")
	if len(june) != 1 || !june[0].PeriodStart.Equal(date(2026, 6, 1)) || !june[0].PeriodEnd.Equal(date(2026, 7, 1)) ||
		!june[0].RecordedAt.Equal(date(2026, 6, 3)) {
		t.Fatalf("June renewals for acme = %+v", june)
	}
	if june[0].DistributorDescription != "" || len(june[0].Chain) != 1 {
		t.Fatalf("acme sees the distributor's description or a chain above it: %+v", june[0])
	}
	if got := report(dist, date(2026, 4, 1), date(2026, 5, 1), ""); len(got) != 0 {
		t.Fatalf("April (the first period is no renewal) = %+v", got)
	}
	if got := report(dist, date(2026, 5, 2), date(2026, 6, 1), "acme"); len(got) != 0 {
		t.Fatalf("2 May..1 June = %+v, want nothing", got)
	}
	_, _, err := e.lg.ReportRenewals(ctx, beta, RenewalQuery{From: date(2026, 5, 1), To: date(2026, 6, 1), Customer: "acme"})
	wantErr(t, err, ErrNotFound)
	if got := report(beta, date(2026, 1, 1), date(2027, 1, 1), ""); len(got) != 0 {
		t.Fatalf("a sibling sees renewals: %+v", got)
	}
}

// Suspended on the 10th, resumed on the 20th: active on the 5th and the
// 25th, not on the 15th.
func TestActiveOnDaySuspendResume(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, beta := e.tree()
	e.device(acme, "acme", "dev-1", "sensor-a")
	l := e.create(dist, std("acme"))
	e.clk.Set(date(2026, 4, 1).Add(9 * time.Hour))
	e.bind(acme, l.ID, "dev-1")
	e.clk.Set(date(2026, 4, 10).Add(12 * time.Hour))
	if _, err := e.lg.Suspend(ctx, dist, l.ID); err != nil {
		t.Fatal(err)
	}
	e.clk.Set(date(2026, 4, 20).Add(12 * time.Hour))
	if _, err := e.lg.Resume(ctx, dist, l.ID); err != nil {
		t.Fatal(err)
	}
	e.clk.Set(date(2026, 5, 1))
	active := func(a Actor, reseller string, day time.Time) bool {
		t.Helper()
		rows, _, err := e.lg.ReportActive(ctx, a, ActiveQuery{Reseller: reseller, Day: day})
		if err != nil {
			t.Fatalf("ReportActive %s %s: %v", reseller, day, err)
		}
		for _, r := range rows {
			if r.LicenseID == l.ID {
				if r.DeviceID != "dev-1" || r.CustomerID != "acme" {
					t.Fatalf("row = %+v", r)
				}
				return true
			}
		}
		return false
	}
	for day, want := range map[int]bool{5: true, 15: false, 25: true} {
		if got := active(dist, "acme", date(2026, 4, day)); got != want {
			t.Errorf("active on 2026-04-%02d = %v, want %v", day, got, want)
		}
	}
	if active(dist, "", date(2026, 3, 31)) {
		t.Error("active on 31 March, before its bind")
	}
	if !active(acme, "", date(2026, 4, 10)) {
		t.Error("not active on the 10th, suspended at noon: it was active that morning")
	}
	_, _, err := e.lg.ReportActive(ctx, beta, ActiveQuery{Reseller: "acme", Day: date(2026, 4, 5)})
	wantErr(t, err, ErrNotFound)
	if active(beta, "", date(2026, 4, 5)) {
		t.Error("a sibling's report lists acme's license")
	}
}

// A sale records owner dist → acme by dist's user; a transfer records the
// status change on the old license and, on the new one, where it came
// from, by whom (acme moves it to its sub-customer).
func TestHistoryOwnerChangeShowsWho(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, _ := e.tree()
	l := e.create(e.root, std("dist"))
	e.clk.Advance(time.Hour)
	if _, err := e.lg.Sell(ctx, dist, BatchInput{CustomerID: "acme", IDs: []string{l.ID}}); err != nil {
		t.Fatal(err)
	}
	es := e.history(acme, l.ID)
	if len(es) != 2 || es[0].Kind != HistoryCreated || es[0].To != "dist" || es[0].By != HistoryByUser || es[0].UserID != e.root.UserID {
		t.Fatalf("history = %v", kinds(es))
	}
	o := es[1]
	if o.Kind != HistoryOwner || o.From != "dist" || o.To != "acme" || o.UserID != "u-dist" || o.ActorOf != "dist" ||
		o.By != HistoryByUser || o.Action != "license.sell" || !o.At.Equal(epoch.Add(time.Hour)) {
		t.Fatalf("owner entry = %+v", o)
	}
	e.device(acme, "acme", "dev-1", "sensor-a")
	e.bind(acme, l.ID, "dev-1")
	e.clk.Advance(time.Hour)
	_, n, err := e.lg.Transfer(ctx, acme, l.ID, "acme-sub")
	if err != nil {
		t.Fatal(err)
	}
	old := e.history(dist, l.ID)
	st := findKind(old, HistoryStatus)
	last := st[len(st)-1]
	if last.From != string(StatusActive) || last.To != string(StatusTransferred) || last.Related != n.ID || last.UserID != "u-acme" {
		t.Fatalf("old license's last status entry = %+v", last)
	}
	if b := findKind(old, HistoryBinding); len(b) != 1 || b[0].To != "dev-1" || b[0].UserID != "u-acme" {
		t.Fatalf("binding entries = %+v", b)
	}
	created := e.history(dist, n.ID)[0]
	if created.Kind != HistoryCreated || created.From != "acme" || created.To != "acme-sub" || created.Related != l.ID || created.UserID != "u-acme" {
		t.Fatalf("new license's first entry = %+v", created)
	}
}

// A refused operation leaves no history: a sale of two licenses of which
// one is not unused, a suspension by a viewer, and a transaction that
// wrote a license and then failed.
func TestRefusedOperationRecordsNoHistory(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, _ := e.tree()
	free := e.create(e.root, std("dist"))
	used := e.create(e.root, std("dist"))
	e.device(dist, "dist", "dev-1", "sensor-a")
	e.bind(dist, used.ID, "dev-1")
	n0, n1 := len(e.history(dist, free.ID)), len(e.history(dist, used.ID))
	_, err := e.lg.Sell(ctx, dist, BatchInput{CustomerID: "acme", IDs: []string{free.ID, used.ID}})
	wantErr(t, err, ErrNotUnused)
	_, err = e.lg.Suspend(ctx, as(dist, RoleViewer), used.ID)
	wantErr(t, err, ErrForbidden)
	boom := errors.New("boom")
	err = e.lg.update(func(o *op) error {
		l, err := o.license(free.ID)
		if err != nil {
			return err
		}
		before := *l
		l.CustomerID = "acme"
		if err := o.putLicense(&before, l); err != nil {
			return err
		}
		if err := o.audit(dist, "license.sell", "license", l.ID, l.CustomerID, &before, l); err != nil {
			return err
		}
		return boom
	})
	wantErr(t, err, boom)
	if got := len(e.history(dist, free.ID)); got != n0 {
		t.Fatalf("free license: %d entries after refusals, want %d", got, n0)
	}
	if got := len(e.history(dist, used.ID)); got != n1 {
		t.Fatalf("used license: %d entries after refusals, want %d", got, n1)
	}
	if rows, _, _ := e.lg.ReportActive(ctx, acme, ActiveQuery{Day: date(2026, 3, 14)}); len(rows) != 0 {
		t.Fatalf("acme's report after refused sale: %+v", rows)
	}
}

// History written before a restart reads the same after it, and a store
// whose licenses predate history gets each a "seeded" entry once.
func TestHistorySurvivesReopenAndSeeds(t *testing.T) {
	dir, keyDir := t.TempDir(), t.TempDir()
	clk := clock.NewFake(epoch)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ks, _ := keys.Open(keyDir, clk)
	ks.Rotate()
	open := func() (*Ledger, *store.DB) {
		db, err := store.Open(store.Options{Dir: dir, Profile: store.ProfileSmall, Clock: clk, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		lg, err := New(Options{DB: db, Clock: clk, Keys: ks, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		return lg, db
	}
	lg, db := open()
	if _, _, _, err := lg.Bootstrap(ctx, "Vendor", "ops@vendor.test"); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, lg: lg, clk: clk, ks: ks, root: admin("root")}
	dist, _, _, _ := e.tree()
	l := e.create(e.root, std("dist"))
	if _, err := lg.Suspend(ctx, e.root, l.ID); err != nil {
		t.Fatal(err)
	}
	before := kinds(e.history(dist, l.ID))
	db.Close()

	lg, db = open()
	e.lg = lg
	if got := kinds(e.history(dist, l.ID)); len(got) != 2 || got[0] != before[0] || got[1] != before[1] || got[1] != "status:unused>suspended" {
		t.Fatalf("after restart %v, before %v", got, before)
	}
	// Make l a license from before history: no entries, store not seeded.
	err := db.Update(func(x *store.Txn) error {
		for _, es := range e.history(dist, l.ID) {
			if err := x.Delete(store.LicenseHistoryKey(l.ID, es.Seq)); err != nil {
				return err
			}
		}
		return x.Delete(store.HistorySeededKey())
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	clk.Advance(time.Hour)
	lg, db = open()
	defer db.Close()
	e.lg = lg
	es := e.history(dist, l.ID)
	if len(es) != 1 || es[0].Kind != HistorySeeded || es[0].By != HistoryBySystem || !es[0].At.Equal(epoch.Add(time.Hour)) ||
		!es[0].State.Suspended || es[0].State.CustomerID != "dist" {
		t.Fatalf("seeded history = %+v", es)
	}
	db.Close()
	lg, db = open()
	e.lg = lg
	if got := e.history(dist, l.ID); len(got) != 1 {
		t.Fatalf("a second open seeded again: %v", kinds(got))
	}
}

// The history lists oldest first, a page at a time.
func TestLicenseHistoryPaged(t *testing.T) {
	e := newEnv(t)
	dist, _, _, beta := e.tree()
	l := e.create(e.root, std("dist"))
	for range 3 {
		if _, err := e.lg.Suspend(ctx, e.root, l.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.lg.Resume(ctx, e.root, l.ID); err != nil {
			t.Fatal(err)
		}
	}
	var all []HistoryEntry
	cursor := ""
	for {
		es, next, err := e.lg.ListLicenseHistory(ctx, dist, l.ID, cursor, 2)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, es...)
		if cursor = next; cursor == "" {
			break
		}
	}
	if len(all) != 7 || all[0].Kind != HistoryCreated {
		t.Fatalf("paged history = %v", kinds(all))
	}
	for i := 1; i < len(all); i++ {
		if all[i].Seq <= all[i-1].Seq {
			t.Fatalf("not oldest first: %v", kinds(all))
		}
	}
	_, _, err := e.lg.ListLicenseHistory(ctx, beta, l.ID, "", 0)
	wantErr(t, err, ErrNotFound)
}

// A license transferred from acme to acme-sub on the 10th and bound there
// on the 12th: on the 5th the old license counts for acme and nothing for
// acme-sub; on the 15th the new one counts for acme-sub (and so for acme
// above it), the old one for nobody.
func TestActiveOnDayCountsTheOwnerOfThatDay(t *testing.T) {
	e := newEnv(t)
	dist, acme, sub, _ := e.tree()
	e.device(acme, "acme", "dev-1", "sensor-a")
	e.device(sub, "acme-sub", "dev-2", "sensor-a")
	old := e.create(dist, std("acme"))
	e.clk.Set(date(2026, 4, 1))
	e.bind(acme, old.ID, "dev-1")
	e.clk.Set(date(2026, 4, 10).Add(8 * time.Hour))
	_, n, err := e.lg.Transfer(ctx, acme, old.ID, "acme-sub")
	if err != nil {
		t.Fatal(err)
	}
	e.clk.Set(date(2026, 4, 12).Add(8 * time.Hour))
	e.bind(sub, n.ID, "dev-2")
	ids := func(a Actor, day int) map[string]string {
		t.Helper()
		rows, _, err := e.lg.ReportActive(ctx, a, ActiveQuery{Day: date(2026, 4, day)})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, r := range rows {
			out[r.LicenseID] = r.CustomerID + "@" + r.DeviceID
		}
		return out
	}
	if got := ids(acme, 5); len(got) != 1 || got[old.ID] != "acme@dev-1" {
		t.Fatalf("acme on the 5th = %v, want the old license only", got)
	}
	if got := ids(sub, 5); len(got) != 0 {
		t.Fatalf("acme-sub on the 5th = %v, want nothing: it owned nothing then", got)
	}
	if got := ids(sub, 11); len(got) != 0 {
		t.Fatalf("acme-sub on the 11th = %v, want nothing: its license was not bound yet", got)
	}
	if got := ids(sub, 15); len(got) != 1 || got[n.ID] != "acme-sub@dev-2" {
		t.Fatalf("acme-sub on the 15th = %v, want the new license", got)
	}
	if got := ids(acme, 15); len(got) != 1 || got[n.ID] != "acme-sub@dev-2" {
		t.Fatalf("acme on the 15th = %v, want the new license under acme-sub only", got)
	}
}

// A scheduler that ran three and a half months late renews four periods at
// once: the history and the report hold each period, May to August.
func TestRenewalCatchUpRecordsEveryPeriod(t *testing.T) {
	e := newEnv(t)
	dist, _, _, _ := e.tree()
	in := std("acme")
	in.Months = 1
	l := e.create(dist, in)
	e.clk.Set(date(2026, 8, 15))
	if r, _, err := e.lg.ApplyDue(ctx); err != nil || r != 1 {
		t.Fatalf("ApplyDue: renewed %d, %v", r, err)
	}
	got := findKind(e.history(dist, l.ID), HistoryRenewal)
	if len(got) != 4 {
		t.Fatalf("renewal entries = %+v, want 4", got)
	}
	for i, m := range []time.Month{5, 6, 7, 8} {
		if !got[i].PeriodStart.Equal(date(2026, m, 1)) || !got[i].PeriodEnd.Equal(date(2026, m+1, 1)) || got[i].By != HistoryBySystem {
			t.Errorf("renewal %d = %s..%s by %s, want 2026-%02d-01..2026-%02d-01 by system", i, got[i].PeriodStart, got[i].PeriodEnd, got[i].By, m, m+1)
		}
	}
	rows, _, err := e.lg.ReportRenewals(ctx, dist, RenewalQuery{From: date(2026, 6, 1), To: date(2026, 8, 1)})
	if err != nil || len(rows) != 2 || !rows[0].PeriodStart.Equal(date(2026, 6, 1)) || !rows[1].PeriodStart.Equal(date(2026, 7, 1)) {
		t.Fatalf("June and July = %+v, %v", rows, err)
	}
}

// Both reports page: three licenses read one at a time come back once
// each, and a cursor not issued by the server is refused.
func TestReportsPage(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, _ := e.tree()
	in := std("acme")
	in.Months, in.Count = 1, 3
	ls, err := e.lg.CreateLicenses(ctx, dist, in)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range ls {
		e.device(acme, "acme", "dev-"+string(rune('a'+i)), "sensor-a")
		e.bind(acme, l.ID, "dev-"+string(rune('a'+i)))
	}
	e.clk.Set(date(2026, 5, 2))
	if _, _, err := e.lg.ApplyDue(ctx); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	cursor := ""
	for range 10 {
		rows, next, err := e.lg.ReportRenewals(ctx, dist, RenewalQuery{From: date(2026, 5, 1), To: date(2026, 6, 1), Cursor: cursor, Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			seen["r"+r.LicenseID]++
		}
		if cursor = next; cursor == "" {
			break
		}
	}
	for range 10 {
		rows, next, err := e.lg.ReportActive(ctx, dist, ActiveQuery{Day: date(2026, 4, 20), Cursor: cursor, Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			seen["a"+r.LicenseID]++
		}
		if cursor = next; cursor == "" {
			break
		}
	}
	for _, l := range ls {
		if seen["r"+l.ID] != 1 || seen["a"+l.ID] != 1 {
			t.Fatalf("pages = %v, want each license once in each report", seen)
		}
	}
	if len(seen) != 6 {
		t.Fatalf("pages = %v", seen)
	}
	_, _, err = e.lg.ReportRenewals(ctx, dist, RenewalQuery{From: date(2026, 5, 1), To: date(2026, 6, 1), Cursor: "x/y"})
	wantErr(t, err, ErrInvalid)
	_, _, err = e.lg.ReportActive(ctx, dist, ActiveQuery{Day: date(2026, 4, 20), Cursor: "not-a-license"})
	wantErr(t, err, ErrInvalid)
}

// Who is named: a device that activates itself online is "device", the
// scheduler's expiry is "system" (at the recorded time, the term's end in
// period_end), a user's switch-off is the user.
func TestHistoryNamesDeviceAndSystem(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, _ := e.tree()
	l := e.create(dist, std("acme"))
	e.redeem(activationRequest(newDeviceKey(t), "dev-1", "sensor-a"), l.Serial)
	if _, err := e.lg.SetRenew(ctx, acme, l.ID, false); err != nil {
		t.Fatal(err)
	}
	end := e.get(l.ID).End
	e.clk.Set(end.Add(2 * time.Hour))
	if _, x, err := e.lg.ApplyDue(ctx); err != nil || x != 1 {
		t.Fatalf("ApplyDue: expired %d, %v", x, err)
	}
	es := e.history(acme, l.ID)
	b := findKind(es, HistoryBinding)
	if len(b) != 1 || b[0].By != HistoryByDevice || b[0].UserID != "device:dev-1" || b[0].Action != "license.bind" {
		t.Fatalf("binding = %+v", b)
	}
	r := findKind(es, HistoryRenew)
	if len(r) != 1 || r[0].From != "on" || r[0].To != "off" || r[0].By != HistoryByUser || r[0].UserID != "u-acme" {
		t.Fatalf("renew switch = %+v", r)
	}
	st := findKind(es, HistoryStatus)
	last := st[len(st)-1]
	if last.To != string(StatusExpired) || last.From != string(StatusActive) || last.By != HistoryBySystem ||
		!last.At.Equal(end.Add(2*time.Hour)) || !last.PeriodEnd.Equal(end) {
		t.Fatalf("expiry = %+v", last)
	}
	if len(findKind(es, HistoryRenewal)) != 0 {
		t.Fatalf("a license switched off renewed: %v", kinds(es))
	}
}
