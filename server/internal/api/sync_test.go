package api

import (
	"context"
	"errors"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/server/internal/store/storetest"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// hourly returns n consecutive hourly counts of dev ending before end,
// with values that differ per hour.
func hourly(dev string, end time.Time, n int) []syncproto.HourlyCount {
	first := end.Truncate(time.Hour).Add(-time.Duration(n) * time.Hour)
	out := make([]syncproto.HourlyCount, n)
	for i := range out {
		out[i] = syncproto.HourlyCount{DeviceID: dev, Hour: first.Add(time.Duration(i) * time.Hour).Unix(),
			Accepted: int64(100 + i%7), Overage: int64(i % 3), Refused: int64(i % 5)}
	}
	return out
}

func TestSyncSameUploadTenTimes(t *testing.T) {
	e := newSyncEnv(t, 30)
	lic, t0 := e.lic["dev-a"], e.clk.Now()
	base := e.report("dev-a")
	for i := range 3 {
		base.Deductions = append(base.Deductions, deduction(int64(i+1), lic, t0.Add(time.Duration(i)*time.Hour), int64(30-i)))
	}
	base.Counts = hourly("dev-a", t0, 24)
	var first *syncproto.Response
	var firstStatus string
	for i := range 10 {
		r := *base
		r.Nonce = nonce(t) // a new request each time, the same records
		resp := e.sync(&r)
		if i == 0 {
			first, firstStatus = resp, e.snapshotWithoutSyncTime()
		}
		if resp.AckedSeq != 3 || len(resp.Missing) != 0 || resp.AckedSeq != first.AckedSeq {
			t.Fatalf("upload %d: acked %d missing %v", i, resp.AckedSeq, resp.Missing)
		}
	}
	if got := e.availableDays(lic); got != 27 {
		t.Fatalf("available days %d after 10 uploads of 3 deductions, want 27", got)
	}
	if got := e.snapshotWithoutSyncTime(); got != firstStatus {
		t.Fatalf("replays changed the ledger:\n%s\nwant\n%s", got, firstStatus)
	}
	if s := e.status("dev-a"); s.Syncs != 10 || s.Last24h.Accepted != sumAccepted(base.Counts) || len(s.Hourly) != 24 {
		t.Fatalf("status %+v", s)
	}
}

// snapshotWithoutSyncTime is snapshot with the sync counter cleared.
func (e *syncEnv) snapshotWithoutSyncTime() string {
	s := e.status("dev-a")
	s.Syncs, s.LastSyncAt = 0, nil
	return sprint(s) + sprint(e.availableDays(e.lic["dev-a"])) + sprint(e.auditCount())
}

func sumAccepted(cs []syncproto.HourlyCount) int64 {
	var n int64
	for _, c := range cs {
		n += c.Accepted
	}
	return n
}

func TestSyncShuffledUploadsSameTotals(t *testing.T) {
	const n = 40
	run := func(seed uint64) (int64, string) {
		e := newSyncEnv(t, 60)
		lic, t0 := e.lic["dev-a"], e.clk.Now()
		var ds []syncproto.Deduction
		for i := range n {
			ds = append(ds, deduction(int64(i+1), lic, t0.Add(time.Duration(i)*time.Hour), int64(60-i)))
		}
		counts := hourly("dev-a", t0, 72)
		rng := rand.New(rand.NewPCG(seed, 7))
		var reports []*syncproto.Report
		for len(ds) > 0 || len(counts) > 0 {
			r := e.report("dev-a")
			k, m := min(len(ds), 1+rng.IntN(6)), min(len(counts), 1+rng.IntN(20))
			r.Deductions, ds = ds[:k], ds[k:]
			r.Counts, counts = counts[:m], counts[m:]
			reports = append(reports, r)
		}
		rng.Shuffle(len(reports), func(i, j int) { reports[i], reports[j] = reports[j], reports[i] })
		var last *syncproto.Response
		for _, r := range reports {
			last = e.sync(r)
		}
		if last.AckedSeq != n || len(last.Missing) != 0 {
			t.Fatalf("seed %d: acked %d missing %v", seed, last.AckedSeq, last.Missing)
		}
		s := e.status("dev-a")
		s.Syncs, s.LastSyncAt = 0, nil
		return e.availableDays(lic), sprint(s)
	}
	days, status := run(1)
	if days != 60-n {
		t.Fatalf("available days %d, want %d", days, 60-n)
	}
	for _, seed := range []uint64{2, 3} {
		if d, s := run(seed); d != days || s != status {
			t.Fatalf("seed %d: days %d status %s; seed 1: days %d status %s", seed, d, s, days, status)
		}
	}
}

func TestSyncGapRecordedAndReportedMissing(t *testing.T) {
	e := newSyncEnv(t, 30)
	lic, t0 := e.lic["dev-a"], e.clk.Now()
	r := e.report("dev-a")
	for _, seq := range []int64{1, 2, 5, 8} {
		r.Deductions = append(r.Deductions, deduction(seq, lic, t0.Add(time.Duration(seq)*time.Hour), 31-seq))
	}
	resp := e.sync(r)
	want := []syncproto.SeqRange{{From: 3, To: 4}, {From: 6, To: 7}}
	if resp.AckedSeq != 2 || !reflect.DeepEqual(resp.Missing, want) {
		t.Fatalf("acked %d missing %v, want 2 %v", resp.AckedSeq, resp.Missing, want)
	}
	if s := e.status("dev-a"); s.AckedSeq != 2 || s.HighestSeq != 8 || len(s.Gaps) != 2 || s.Gaps[0].From != 3 || s.Gaps[1].To != 7 {
		t.Fatalf("status %+v", s)
	}
	r = e.report("dev-a")
	for _, seq := range []int64{3, 4, 6, 7} {
		r.Deductions = append(r.Deductions, deduction(seq, lic, t0.Add(time.Duration(seq)*time.Hour), 31-seq))
	}
	if resp = e.sync(r); resp.AckedSeq != 8 || len(resp.Missing) != 0 {
		t.Fatalf("after the gap is filled: acked %d missing %v", resp.AckedSeq, resp.Missing)
	}
	if got := e.availableDays(lic); got != 22 {
		t.Fatalf("available days %d, want 22", got)
	}
}

func TestSyncOffline42Days(t *testing.T) {
	e := newSyncEnv(t, 50)
	lic, t0 := e.lic["dev-a"], e.clk.Now()
	const days = 42
	r := &syncproto.Report{DeviceID: "dev-a", Nonce: nonce(t), Tokens: []syncproto.TokenVersion{}}
	for i := range days {
		r.Deductions = append(r.Deductions, deduction(int64(i+1), lic, t0.Add(time.Duration(i)*24*time.Hour), int64(50-i)))
	}
	e.clk.Advance(days * 24 * time.Hour)
	r.SentAt = e.clk.Now().Unix()
	r.Counts = hourly("dev-a", e.clk.Now(), days*24)
	resp := e.sync(r)
	if resp.AckedSeq != days || len(resp.Missing) != 0 || len(resp.Tokens) != 1 || resp.RevocationList == "" {
		t.Fatalf("answer: acked %d missing %v tokens %d", resp.AckedSeq, resp.Missing, len(resp.Tokens))
	}
	if got := e.availableDays(lic); got != 50-days {
		t.Fatalf("available days %d, want %d", got, 50-days)
	}
	var ds struct{ Deductions []struct{ Seq int64 } }
	e.must(200, "GET", "/v1/licenses/"+lic+"/deductions", e.key["root"], nil, &ds)
	if len(ds.Deductions) != days {
		t.Fatalf("%d deduction records, want %d", len(ds.Deductions), days)
	}
	s := e.status("dev-a")
	want7d, want24h := sumAccepted(r.Counts[len(r.Counts)-168:]), sumAccepted(r.Counts[len(r.Counts)-24:])
	if len(s.Hourly) != 168 || s.Last7d.Accepted != want7d || s.Last24h.Accepted != want24h || s.Overdrafts != 0 {
		t.Fatalf("status: %d hours, 7d %d (want %d), 24h %d (want %d), overdrafts %d",
			len(s.Hourly), s.Last7d.Accepted, want7d, s.Last24h.Accepted, want24h, s.Overdrafts)
	}
}

func TestSyncTwoAgentsOneIdentityFork(t *testing.T) {
	e := newSyncEnv(t, 30)
	lic, t0 := e.lic["dev-a"], e.clk.Now()
	// Two agents run with dev-a's key: each numbers its own deductions 1, 2.
	a, b := e.report("dev-a"), e.report("dev-a")
	for i := range 2 {
		a.Deductions = append(a.Deductions, deduction(int64(i+1), lic, t0.Add(time.Duration(i)*time.Hour), int64(30-i)))
		b.Deductions = append(b.Deductions, deduction(int64(i+1), lic, t0.Add(time.Duration(i)*time.Hour+time.Minute), int64(30-i)))
	}
	e.sync(a)
	if resp := e.sync(b); resp.AckedSeq != 2 {
		t.Fatalf("acked %d", resp.AckedSeq)
	}
	s := e.status("dev-a")
	if s.ForkCount != 2 || len(s.Forks) != 2 || s.Forks[0].Held.At.Unix() != a.Deductions[0].At || s.Forks[0].Reported.At.Unix() != b.Deductions[0].At {
		t.Fatalf("forks %+v", s.Forks)
	}
	// Both agents used two days: four are charged.
	if got := e.availableDays(lic); got != 26 {
		t.Fatalf("available days %d, want 26: each agent's days are charged", got)
	}
	// The same forked upload again is not a new fork, nor a new charge.
	b.Nonce = nonce(t)
	e.sync(b)
	if s := e.status("dev-a"); s.ForkCount != 2 || e.availableDays(lic) != 26 {
		t.Fatalf("fork count %d, %d days after a replay of the fork", s.ForkCount, e.availableDays(lic))
	}
}

func TestSyncOverdraftRecordedAndBlacklists(t *testing.T) {
	e := newSyncEnv(t, 2)
	lic, t0 := e.lic["dev-a"], e.clk.Now()
	r := e.report("dev-a")
	for i := range 3 {
		r.Deductions = append(r.Deductions, deduction(int64(i+1), lic, t0.Add(time.Duration(i)*time.Hour), 2))
	}
	r.Deductions[1].DaysBefore, r.Deductions[1].DaysAfter = 1, 0
	resp := e.sync(r)
	if resp.AckedSeq != 3 {
		t.Fatalf("acked %d: an overdraft is held like any record", resp.AckedSeq)
	}
	trust, _ := e.ks.Trust()
	rl, err := token.ParseRevocationList(trust, resp.RevocationList)
	if err != nil || !slices.Contains(rl.BlacklistedDevices, "dev-a") {
		t.Fatalf("the answer's revocation list must name the overdrawn device: %+v %v", rl, err)
	}
	s := e.status("dev-a")
	if s.Overdrafts != 1 || len(s.Overdrawn) != 1 || s.Overdrawn[0].Seq != 3 {
		t.Fatalf("overdrafts %d %+v", s.Overdrafts, s.Overdrawn)
	}
	var d struct{ Blacklisted bool }
	e.must(200, "GET", "/v1/devices/dev-a", e.key["root"], nil, &d)
	if !d.Blacklisted {
		t.Fatal("an overdraft must blacklist the device (docs/design.md#day-licenses)")
	}
}

func TestSyncCountsOfGatewayChildren(t *testing.T) {
	e := newSyncEnv(t, 30)
	r := e.report("dev-a")
	r.Counts = append(hourly("child-a", e.clk.Now(), 3), hourly("dev-a", e.clk.Now(), 2)...)
	e.sync(r)
	if s := e.status("child-a"); len(s.Hourly) != 3 || s.Last24h.Accepted != sumAccepted(r.Counts[:3]) {
		t.Fatalf("child status %+v", s)
	}
	// Higher counts of the same hour replace the held ones.
	r2 := e.report("dev-a")
	r2.Counts = slices.Clone(r.Counts[:1])
	r2.Counts[0].Accepted += 5
	e.sync(r2)
	if s := e.status("child-a"); s.Last24h.Accepted != sumAccepted(r.Counts[:3])+5 {
		t.Fatalf("child 24h accepted %d", s.Last24h.Accepted)
	}
}

// TestReconcileUsageReceipt is the air-gap path: the same report, signed
// as a usage receipt, reconciles through the same ledger call.
func TestReconcileUsageReceipt(t *testing.T) {
	e := newSyncEnv(t, 10)
	r := e.report("dev-a")
	r.Deductions = []syncproto.Deduction{deduction(1, e.lic["dev-a"], e.clk.Now(), 10)}
	r.Counts = hourly("dev-a", e.clk.Now(), 2)
	text, err := syncproto.SignReceipt(e.dev["dev-a"], r)
	if err != nil {
		t.Fatal(err)
	}
	trust, _ := token.NewTrust(e.dev["dev-a"].PublicKey())
	rep, err := syncproto.OpenReport(trust, token.KindUsageReceipt, text)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // an imported receipt imported again changes nothing
		resp, err := e.lg.Reconcile(context.Background(), "dev-a", rep)
		if err != nil || resp.AckedSeq != 1 {
			t.Fatalf("Reconcile: %+v %v", resp, err)
		}
	}
	if got := e.availableDays(e.lic["dev-a"]); got != 9 {
		t.Fatalf("available days %d, want 9", got)
	}
	if _, err := e.lg.Reconcile(context.Background(), "dev-b", rep); !errors.Is(err, ledger.ErrInvalid) {
		t.Fatalf("a report reconciled as another device's: %v", err)
	}
}

// TestSyncReportTooBigForOneTransaction: a report whose records do not fit
// one badger transaction (the small profile's) is applied in part — what
// is held is acked, nothing is half-applied — and the agent's resends
// converge to exact totals.
func TestSyncReportTooBigForOneTransaction(t *testing.T) {
	if storetest.Engine() == "postgres" {
		t.Skip("sized for badger's small-profile transaction limit; a PostgreSQL transaction holds 64 MiB (store.PostgresMaxTxnBytes), which no sync report reaches")
	}
	const n = 1000
	e := newSyncEnv(t, 2000)
	lic, t0 := e.lic["dev-a"], e.clk.Now()
	r := e.report("dev-a")
	for i := range n {
		r.Deductions = append(r.Deductions, deduction(int64(i+1), lic, t0.Add(time.Duration(i)*time.Minute), int64(2000-i)))
	}
	r.Counts = hourly("dev-a", t0, 24)
	acked, sends := int64(0), 0
	for acked < n {
		if sends++; sends > 20 {
			t.Fatalf("acked %d after 20 sends", acked)
		}
		r.Nonce = nonce(t)
		resp := e.sync(r)
		if resp.AckedSeq <= acked && acked > 0 || len(resp.Missing) != 0 {
			t.Fatalf("send %d: acked %d (was %d), missing %v", sends, resp.AckedSeq, acked, resp.Missing)
		}
		acked = resp.AckedSeq
		r.Deductions = r.Deductions[acked-int64(n-len(r.Deductions)):] // the agent forgets what is acked
	}
	if sends < 2 {
		t.Fatalf("one send of %d deductions: the test no longer exceeds one transaction", n)
	}
	if got := e.availableDays(lic); got != 2000-n {
		t.Fatalf("available days %d, want %d", got, 2000-n)
	}
	if s := e.status("dev-a"); s.Last24h.Accepted != sumAccepted(r.Counts) {
		t.Fatalf("counts %+v", s.Last24h)
	}
}
