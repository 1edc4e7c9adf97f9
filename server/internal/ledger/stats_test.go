package ledger

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"slices"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// recountStats computes the figures of Stats for customer's subtree by
// reading every license and device of it (the full scan the counters
// spare), straight from the definitions of docs/reports.md#statistics.
func recountStats(t testing.TB, lg *Ledger, customer string) *Stats {
	t.Helper()
	s := statsReader{kinds: map[string]map[Status]int64{}}
	err := lg.view(func(o *op) error {
		s.o, s.now = o, o.now.UnixNano()
		ids, err := o.subtree(customer)
		if err != nil {
			return err
		}
		for _, c := range ids {
			var ls []License
			err := o.x.Scan(store.LicenseByCustomerPrefix(c), nil, false, func(k, _ []byte) (bool, error) {
				var l License
				err := o.x.GetJSON(store.LicenseKey(store.LastPart(k)), &l)
				ls = append(ls, l)
				return true, err
			})
			if err != nil {
				return err
			}
			for _, l := range ls {
				recountLicense(&s, o.now, &l)
			}
			err = o.x.Scan(store.DeviceByCustomerPrefix(c), nil, false, func(k, _ []byte) (bool, error) {
				d, err := o.device(store.LastPart(k))
				if err != nil {
					return false, err
				}
				if d.Blacklisted {
					s.blacklists++
				}
				off, err := recountOffline(o, d)
				if off {
					s.offline++
				}
				return true, err
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return s.result(customer)
}

// recountOffline reports whether d has gone without a sync for longer
// than the smallest max_offline of its live bound licenses.
func recountOffline(o *op, d *Device) (bool, error) {
	var limit time.Duration
	var ids []string
	err := o.x.Scan(store.LicenseByDevicePrefix(d.ID), nil, false, func(k, _ []byte) (bool, error) {
		ids = append(ids, store.LastPart(k))
		return true, nil
	})
	if err != nil {
		return false, err
	}
	for _, id := range ids {
		l, err := o.license(id)
		if err != nil {
			return false, err
		}
		m := time.Duration(l.MaxOfflineSeconds) * time.Second
		if l.DeviceID == d.ID && !l.terminal() && m > 0 && (limit == 0 || m < limit) {
			limit = m
		}
	}
	st, err := o.syncState(d.ID)
	last := st.LastSyncAt
	if last.IsZero() {
		last = d.CreatedAt
	}
	return limit > 0 && o.now.Sub(last) > limit, err
}

func recountLicense(s *statsReader, now time.Time, l *License) {
	st := l.Status(now)
	s.add(statsKind(l), st, 1)
	if st == StatusExpired || st == StatusRevoked || st == StatusTransferred {
		return
	}
	e := ExpiringLicense{ID: l.ID, Serial: l.Serial, CustomerID: l.CustomerID, Billing: l.Billing}
	switch {
	case l.Billing == token.BillingDays && l.AvailableDays < StatsDaysWindow:
		from := now
		if l.PaidUntil.After(now) {
			from = l.PaidUntil
		}
		e.DaysLeft, e.End = max(l.AvailableDays, 0), from.Add(time.Duration(max(l.AvailableDays, 0))*Day)
	case l.Billing == token.BillingTerm && !l.End.IsZero() && (l.Type == token.TypeTrial || !l.renewsAt(l.End)) &&
		l.End.Sub(now) < StatsDaysWindow*Day:
		e.DaysLeft, e.End = int64(l.End.Sub(now)/Day), l.End
	default:
		return
	}
	s.list(e)
}

// sameStats fails unless got and want agree on every figure.
func sameStats(t *testing.T, where string, got, want *Stats) {
	t.Helper()
	g, w := statsText(got), statsText(want)
	if g != w {
		t.Fatalf("%s: counters and full recount differ\ncounters:\n%s\nrecount:\n%s", where, g, w)
	}
}

func statsText(s *Stats) string {
	out := fmt.Sprintf("type %v\nbilling %v\nstatus %v\n<30 %d <7 %d truncated %v blacklisted %d offline %d\n",
		s.ByType, s.ByBilling, s.ByStatus, s.DaysLeft30, s.DaysLeft7, s.ExpiringTruncated, s.DevicesBlacklisted, s.DevicesOffline)
	for _, k := range s.Kinds {
		out += fmt.Sprintf("kind %s %s %v %d: %v total %d\n", k.Type, k.Billing, k.Models, k.MaxSamplesPerHour, k.ByStatus, k.Total)
	}
	for _, e := range s.Expiring {
		out += fmt.Sprintf("expiring %s %s %s %s %d %s\n", e.ID, e.Serial, e.CustomerID, e.Billing, e.DaysLeft, e.End.Format(time.RFC3339Nano))
	}
	return out
}

// TestStatsCountersMatchRecountAfterRandomOperations runs 10,000 seeded
// random operations (create, bind, unbind, deduct, time passing with
// expiries and renewals, transfer, sell, return, move, revoke, suspend,
// resume, renew on/off, top-up, delete, blacklist, sync) on a fake clock and
// checks, every 500 operations and at the end, that the figures answered
// from the counters equal a full recount for every customer's subtree.
func TestStatsCountersMatchRecountAfterRandomOperations(t *testing.T) {
	e := newEnv(t)
	e.statsTree()
	custs := []string{"root", "dist", "acme", "acme-sub", "beta"}
	var devs []string
	devCust := map[string]string{}
	for i, c := range custs {
		for j := range 3 {
			id := fmt.Sprintf("dev-%s-%d", c, j)
			e.device(e.root, c, id, fmt.Sprintf("sensor-%d", (i+j)%3))
			devs, devCust[id] = append(devs, id), c
		}
	}
	rng := rand.New(rand.NewSource(20261204))
	seq := map[string]int64{}
	var lics []string
	pick := func() string {
		if len(lics) == 0 {
			return "none"
		}
		return lics[rng.Intn(len(lics))]
	}
	check := func(where string) {
		for _, c := range custs {
			got, err := e.lg.Stats(ctx, e.root, c)
			if err != nil {
				t.Fatal(err)
			}
			sameStats(t, where+" "+c, got, recountStats(t, e.lg, c))
		}
	}
	const ops = 10000
	for i := range ops {
		c := custs[rng.Intn(len(custs))]
		switch n := rng.Intn(100); {
		case n < 14:
			var in LicenseInput
			switch rng.Intn(4) {
			case 0:
				in = std(c)
				off := false
				in.Renew, in.Months = &off, 1+rng.Intn(2)
			case 1:
				in = std(c)
			case 2:
				in = LicenseInput{CustomerID: c, Type: token.TypeTrial, Billing: token.BillingTerm, Models: []string{"sensor-*"}, Renew: new(bool)}
			default:
				in = days(c, 1+rng.Int63n(40))
			}
			in.Models = [][]string{{"sensor-*"}, {"sensor-1", "sensor-2"}}[rng.Intn(2)]
			in.MaxSamplesPerHour = int64(rng.Intn(2)) * 1000
			ls, err := e.lg.CreateLicenses(ctx, e.root, in)
			if err != nil {
				t.Fatalf("op %d create: %v", i, err)
			}
			lics = append(lics, ls[0].ID)
		case n < 30:
			d := devs[rng.Intn(len(devs))]
			e.lg.Bind(ctx, e.root, pick(), BindInput{DeviceID: d, ExpireReplaced: rng.Intn(4) == 0})
		case n < 36:
			e.lg.Unbind(ctx, e.root, pick())
		case n < 56:
			d := devs[rng.Intn(len(devs))]
			seq[d]++
			e.lg.Deduct(ctx, DeductInput{DeviceID: d, Seq: seq[d]})
		case n < 66:
			e.clk.Advance(time.Duration(rng.Int63n(int64(3 * Day))))
			for {
				r, x, err := e.lg.ApplyDue(ctx)
				if err != nil {
					t.Fatalf("op %d ApplyDue: %v", i, err)
				}
				if r+x == 0 {
					break
				}
			}
		case n < 70:
			if _, nl, err := e.lg.Transfer(ctx, e.root, pick(), c); err == nil {
				lics = append(lics, nl.ID)
			}
		case n < 73:
			e.lg.Sell(ctx, e.root, BatchInput{CustomerID: c, IDs: []string{pick()}})
		case n < 75:
			e.lg.Return(ctx, admin(c), BatchInput{IDs: []string{pick()}})
		case n < 77:
			e.lg.MoveLicense(ctx, e.root, pick(), c)
		case n < 79:
			e.lg.Revoke(ctx, e.root, pick())
		case n < 83:
			e.lg.Suspend(ctx, e.root, pick())
		case n < 87:
			e.lg.Resume(ctx, e.root, pick())
		case n < 90:
			e.lg.SetRenew(ctx, e.root, pick(), rng.Intn(2) == 0)
		case n < 94:
			e.lg.AddDays(ctx, e.root, pick(), 1+rng.Int63n(10))
		case n < 96:
			e.lg.DeleteLicense(ctx, e.root, pick())
		case n < 98:
			d := devs[rng.Intn(len(devs))]
			e.lg.SetBlacklist(ctx, e.root, d, rng.Intn(2) == 0, "test")
		default:
			d := devs[rng.Intn(len(devs))]
			e.lg.Reconcile(ctx, d, &syncproto.Report{DeviceID: d, Nonce: fmt.Sprintf("%022d", i), SentAt: e.clk.Now().Unix(),
				Tokens: []syncproto.TokenVersion{}, Deductions: []syncproto.Deduction{}})
		}
		if (i+1)%500 == 0 {
			check(fmt.Sprintf("after %d operations", i+1))
		}
	}
	// Time passing alone (no write) moves licenses into expired.
	e.clk.Advance(45 * Day)
	check("45 days later")
	got := recountStats(t, e.lg, "root")
	if got.ByStatus[StatusExpired] == 0 || got.ByStatus[StatusActive] == 0 || got.DaysLeft30 == 0 || got.DevicesBlacklisted == 0 || got.DevicesOffline == 0 ||
		len(got.Kinds) < 4 || got.ByStatus[StatusTransferred] == 0 || got.ByStatus[StatusRevoked] == 0 {
		t.Errorf("the random operations did not reach every figure: %s", statsText(got))
	}
	recorded := 0
	if err := e.lg.view(func(o *op) error {
		return o.x.Scan(store.LicenseKey(""), nil, true, func(_, v []byte) (bool, error) {
			var l License
			err := json.Unmarshal(v, &l)
			if l.ExpiryRecorded {
				recorded++
			}
			return true, err
		})
	}); err != nil || recorded == 0 {
		t.Errorf("no license expired by the scheduler (%v): its path is untested", err)
	}
}

// TestStatsMigrationRebuildsCounters drops the counters and their version
// (a ledger from before them) and checks that opening the ledger again
// rebuilds figures equal to a full recount, in several bounded batches.
func TestStatsMigrationRebuildsCounters(t *testing.T) {
	e := newEnv(t)
	e.statsTree()
	e.device(e.root, "acme-sub", "dev-1", "sensor-1")
	for range 10 {
		in := std("acme")
		in.Count = 250
		if _, err := e.lg.CreateLicenses(ctx, e.root, in); err != nil {
			t.Fatal(err)
		}
	}
	l := e.create(e.root, days("acme-sub", 5))
	e.bind(admin("acme-sub"), l.ID, "dev-1")
	if _, err := e.lg.SetBlacklist(ctx, e.root, "dev-1", true, "test"); err != nil {
		t.Fatal(err)
	}
	want := recountStats(t, e.lg, "root")
	if err := e.lg.db.Update(func(x *store.Txn) error { return x.Delete(store.StatsVersionKey()) }); err != nil {
		t.Fatal(err)
	}
	if err := e.lg.db.Update(func(x *store.Txn) error { // a stale counter a rebuild must drop
		return x.Put(store.StatsKindKey("acme", "standard,term,0,sensor-*", "active"), []byte{0, 0, 0, 0, 0, 0, 0, 7})
	}); err != nil {
		t.Fatal(err)
	}
	lg, err := New(Options{DB: e.lg.db, Clock: e.clk, Keys: e.ks, Logger: e.lg.log})
	if err != nil {
		t.Fatal(err)
	}
	got, err := lg.Stats(ctx, e.root, "root")
	if err != nil {
		t.Fatal(err)
	}
	sameStats(t, "after the rebuild", got, want)
	if got.ByType[token.TypeStandard] < 2500 || got.DevicesBlacklisted != 1 {
		t.Fatalf("rebuild counted %v standard licenses, %d blacklisted devices", got.ByType, got.DevicesBlacklisted)
	}
}

// TestStatsDaysLeftBuckets checks the days-left figures against values
// computed by hand on a fake clock: term licenses by days to their end,
// day licenses by available days with end = paid-until + available days.
func TestStatsDaysLeftBuckets(t *testing.T) {
	e := newEnv(t) // epoch 2026-03-14 10:00 UTC
	e.statsTree()
	e.device(e.root, "acme", "dev-1", "sensor-1")
	// A standard term license without renewal created on 14 March starts
	// on 1 April and ends on 1 May: 47 days 14 hours away, not listed.
	noRenew := std("acme")
	noRenew.Renew, noRenew.Months = new(bool), 1
	term := e.create(e.root, noRenew)
	e.create(e.root, std("acme")) // renews: never listed
	d5 := e.create(e.root, days("acme", 5))
	d29 := e.create(e.root, days("acme-sub", 29))
	e.create(e.root, days("acme", 30)) // 30 days is not "fewer than 30"
	d1 := e.create(e.root, days("acme", 1))
	e.bind(admin("acme"), d1.ID, "dev-1")
	if _, err := e.lg.Deduct(ctx, DeductInput{DeviceID: "dev-1", Seq: 1}); err != nil {
		t.Fatal(err)
	}
	// d1 has 0 days and is paid until 15 March 10:00.
	st := e.stats(admin("acme"), "")
	want := []string{
		d1.Serial + " 0 2026-03-15T10:00:00Z",
		d5.Serial + " 5 2026-03-19T10:00:00Z",
		d29.Serial + " 29 2026-04-12T10:00:00Z",
	}
	expectExpiring(t, "at epoch", st, want, 3, 2)

	// 20 days later (3 April 10:00): the term license ends in 27 days 14
	// hours (27 whole days); d1 expired on 15 March.
	e.clk.Advance(20 * Day)
	st = e.stats(admin("acme"), "acme")
	want = []string{
		d5.Serial + " 5 2026-04-08T10:00:00Z",
		d29.Serial + " 29 2026-05-02T10:00:00Z",
		term.Serial + " 27 2026-05-01T00:00:00Z",
	}
	expectExpiring(t, "20 days later", st, want, 3, 1)
	if st.ByStatus[StatusExpired] != 1 {
		t.Errorf("expired = %d, want 1 (the used-up day license)", st.ByStatus[StatusExpired])
	}
	// 24 days 14 hours later (28 April 0:00): the term license has 3 days.
	e.clk.Advance(24*Day + 14*time.Hour)
	st = e.stats(admin("acme"), "acme")
	if st.DaysLeft7 != 2 || st.DaysLeft30 != 3 {
		t.Errorf("28 April: <7 %d <30 %d, want 2 and 3", st.DaysLeft7, st.DaysLeft30)
	}
	// On 1 May at 0:00 the term license expires (no scheduler run yet).
	e.clk.Advance(3 * Day)
	st = e.stats(admin("acme"), "acme")
	if st.ByStatus[StatusExpired] != 2 || st.DaysLeft30 != 2 {
		t.Errorf("1 May: expired %d, <30 %d, want 2 and 2: %s", st.ByStatus[StatusExpired], st.DaysLeft30, statsText(st))
	}
	sameStats(t, "1 May", st, recountStats(t, e.lg, "acme"))
}

// statsTree builds e.tree() with every customer letting its superiors
// manage, so that the vendor may operate any license of the test.
func (e *env) statsTree() {
	e.tree()
	on := true
	for _, c := range []string{"dist", "acme", "acme-sub", "beta"} {
		if _, err := e.lg.UpdateCustomer(ctx, admin(c), c, CustomerUpdate{AllowSuperiorManage: &on}); err != nil {
			e.t.Fatal(err)
		}
	}
}

func (e *env) stats(a Actor, customer string) *Stats {
	e.t.Helper()
	s, err := e.lg.Stats(ctx, a, customer)
	if err != nil {
		e.t.Fatalf("Stats(%s): %v", customer, err)
	}
	return s
}

func expectExpiring(t *testing.T, when string, s *Stats, want []string, n30, n7 int64) {
	t.Helper()
	var got []string
	for _, x := range s.Expiring {
		got = append(got, fmt.Sprintf("%s %d %s", x.Serial, x.DaysLeft, x.End.Format(time.RFC3339)))
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) || s.DaysLeft30 != n30 || s.DaysLeft7 != n7 {
		t.Errorf("%s: expiring %q (<30 %d, <7 %d), want %q (<30 %d, <7 %d)", when, got, s.DaysLeft30, s.DaysLeft7, want, n30, n7)
	}
}

// TestStatsVisibility: a customer reads its own subtree; a sibling's or an
// ancestor's figures are not found.
func TestStatsVisibility(t *testing.T) {
	e := newEnv(t)
	_, acme, sub, beta := e.tree()
	e.create(e.root, std("acme-sub"))
	st := e.stats(acme, "")
	if st.CustomerID != "acme" || st.ByType[token.TypeStandard] != 1 {
		t.Errorf("acme sees %s with %v, want its subtree's one standard license", st.CustomerID, st.ByType)
	}
	for _, c := range []struct {
		a    Actor
		cust string
	}{{beta, "acme"}, {sub, "acme"}, {acme, "dist"}, {acme, "nobody"}} {
		_, err := e.lg.Stats(ctx, c.a, c.cust)
		wantErr(t, err, ErrNotFound)
	}
}

// TestStatsOfflineDevices: a device counts as offline once it has gone
// longer than its strictest live license's max_offline without a sync
// (since its creation if it never synced); a sync, losing the license or
// a looser license takes it out.
func TestStatsOfflineDevices(t *testing.T) {
	e := newEnv(t)
	e.statsTree()
	acme := admin("acme")
	e.device(acme, "acme", "dev-1", "sensor-1")
	day, week := int64(Day/time.Second), int64(7*Day/time.Second)
	in := std("acme")
	in.MaxOfflineSeconds = &week
	loose := e.create(e.root, in)
	in.MaxOfflineSeconds = &day
	strict := e.create(e.root, in)
	offline := func(when string, want int64) {
		t.Helper()
		if got := e.stats(acme, "").DevicesOffline; got != want {
			t.Errorf("%s: %d devices offline, want %d", when, got, want)
		}
	}
	e.bind(acme, strict.ID, "dev-1")
	e.clk.Advance(Day)
	offline("exactly one day after creation", 0)
	e.clk.Advance(time.Second)
	offline("one day and a second after creation, never synced", 1)
	e.report("dev-1")
	offline("just synced", 0)
	e.clk.Advance(Day + time.Second)
	offline("a day and a second after the sync", 1)
	if _, err := e.lg.Unbind(ctx, acme, strict.ID); err != nil {
		t.Fatal(err)
	}
	offline("no license left: no limit", 0)
	e.bind(acme, loose.ID, "dev-1")
	offline("the one-week license bound, a day after the sync", 0)
	e.clk.Advance(6 * Day)
	offline("a week and a second after the sync", 1)
	sameStats(t, "end", e.stats(acme, ""), recountStats(t, e.lg, "acme"))
}
