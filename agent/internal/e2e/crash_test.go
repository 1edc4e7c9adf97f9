package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/agent/internal/store"
	"github.com/tollgate-iot/tollgate/agent/internal/testkit"
	"github.com/tollgate-iot/tollgate/shared/clock"
	"github.com/tollgate-iot/tollgate/shared/token"
)

const (
	crashKills  = 60
	crashDays   = 10_000
	clockSpeed  = "200000" // a day every 0.43 s of real time
	crashDevice = "pump-1"
)

// snapshot is what the state database held after one kill.
type snapshot struct {
	deductions []store.Deduction
	sampleSeq  int64
	totals     store.Bucket
	buckets    map[int64]store.Bucket
}

func readSnapshot(t *testing.T, data string) snapshot {
	t.Helper()
	st := openState(t, data)
	defer st.Close()
	var s snapshot
	var err error
	if s.deductions, err = st.Deductions(crashDevice); err != nil {
		t.Fatal(err)
	}
	if s.sampleSeq, err = st.Int(store.KeySampleSeq(crashDevice)); err != nil {
		t.Fatal(err)
	}
	if err := st.GetJSON(store.KeyTotals(crashDevice), &s.totals); err != nil && s.sampleSeq > 0 {
		t.Fatal(err)
	}
	if s.buckets, err = st.Buckets(crashDevice); err != nil {
		t.Fatal(err)
	}
	return s
}

// checkSnapshot asserts the crash invariants between two kills.
func checkSnapshot(t *testing.T, kill int, prev, cur snapshot, maxAcked int64, acked int) {
	t.Helper()
	for i, d := range cur.deductions {
		if d.Seq != int64(i+1) {
			t.Fatalf("kill %d: deduction %d has seq %d: a sequence was skipped or reused", kill, i, d.Seq)
		}
		if d.DaysBefore != crashDays-int64(i) || d.DaysAfter != d.DaysBefore-1 {
			t.Fatalf("kill %d: deduction %d days %d→%d, want %d→%d", kill, d.Seq, d.DaysBefore, d.DaysAfter, crashDays-int64(i), crashDays-int64(i)-1)
		}
		if i > 0 && d.At < cur.deductions[i-1].PaidUntil {
			t.Fatalf("kill %d: deduction %d at %d inside the day paid by %d (until %d): charged twice", kill, d.Seq, d.At, i, cur.deductions[i-1].PaidUntil)
		}
	}
	if len(cur.deductions) < len(prev.deductions) {
		t.Fatalf("kill %d: %d deductions, had %d: a deduction was lost", kill, len(cur.deductions), len(prev.deductions))
	}
	for i, d := range prev.deductions {
		if cur.deductions[i] != d {
			t.Fatalf("kill %d: deduction %d changed from %+v to %+v", kill, i+1, d, cur.deductions[i])
		}
	}
	if cur.sampleSeq < maxAcked || cur.sampleSeq < prev.sampleSeq {
		t.Fatalf("kill %d: persisted sample seq %d below acknowledged %d or previous %d: a seq would be reused", kill, cur.sampleSeq, maxAcked, prev.sampleSeq)
	}
	if cur.totals.Accepted < int64(acked) || cur.totals.Accepted < prev.totals.Accepted || cur.totals.Accepted < cur.sampleSeq {
		t.Fatalf("kill %d: budget used %d went below acknowledged %d / previous %d / seq %d", kill, cur.totals.Accepted, acked, prev.totals.Accepted, cur.sampleSeq)
	}
	for h, b := range prev.buckets {
		if c, ok := cur.buckets[h]; ok && c.Accepted < b.Accepted {
			t.Fatalf("kill %d: hour %d bucket went down from %d to %d", kill, h, b.Accepted, c.Accepted)
		}
	}
}

// feeder posts batches until stopped and records what was acknowledged.
type feeder struct {
	mu     sync.Mutex
	next   int
	acked  map[int64]int // seq → n
	maxSeq int64
}

func (f *feeder) run(ctx context.Context, addr string) {
	for ctx.Err() == nil {
		f.mu.Lock()
		first := f.next
		f.next += 20
		f.mu.Unlock()
		res := postBatch(ctx, addr, first, 20)
		if res == nil {
			return
		}
		f.mu.Lock()
		for i, r := range res {
			if r.Accepted {
				if prev, dup := f.acked[r.Seq]; dup {
					panic(fmt.Sprintf("seq %d acknowledged twice (n=%d and n=%d)", r.Seq, prev, first+i))
				}
				f.acked[r.Seq] = first + i
				f.maxSeq = max(f.maxSeq, r.Seq)
			}
		}
		f.mu.Unlock()
	}
}

func TestCrashDuringIngest(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	now := clock.Real{}.Now()
	data := initData(t, func(l *token.License) {
		l.Billing, l.Days, l.MaxSamplesPerHour = token.BillingDays, crashDays, 0
		l.NotBefore, l.NotAfter, l.IssuedAt = now.Add(-time.Hour).Unix(), now.Add(1000*24*time.Hour).Unix(), now.Add(-time.Minute).Unix()
	})
	nats := testkit.StartNATS(t, t.TempDir(), 0)
	args := []string{"--broker", nats.URL, "--clock-speed", clockSpeed, "--clock-origin", now.UTC().Format(time.RFC3339)}
	f := &feeder{acked: map[int64]int{}}
	var prev snapshot
	rng := rand.New(rand.NewPCG(1, 2))
	for kill := 1; kill <= crashKills; kill++ {
		p := start(t, data, args...)
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for w := 0; w < 2; w++ {
			wg.Add(1)
			go func() { defer wg.Done(); f.run(ctx, p.addr) }()
		}
		time.Sleep(time.Duration(50+rng.IntN(250)) * time.Millisecond) // paces: a random run time before the crash
		p.kill(t)
		cancel()
		wg.Wait()
		f.mu.Lock()
		maxSeq, n := f.maxSeq, len(f.acked)
		f.mu.Unlock()
		cur := readSnapshot(t, data)
		checkSnapshot(t, kill, prev, cur, maxSeq, n)
		prev = cur
	}
	// A last, clean run drains the outbox.
	p := start(t, data, args...)
	if missing := waitAll(nats.Sink, f.acked, 60*time.Second); missing > 0 {
		t.Fatalf("%d of %d acknowledged samples never reached the broker\n%s", missing, len(f.acked), tail(p.Stderr(), 3000))
	}
	p.stop(t)
	final := readSnapshot(t, data)
	verifyDelivered(t, nats.Sink, f.acked, final.deductions)
	unique, dups, conflicts, bad := nats.Sink.Stats()
	if len(conflicts) > 0 || bad > 0 {
		t.Fatalf("sequence reused with other data: %v (unparsable: %d)", conflicts, bad)
	}
	t.Logf("crash test: %d SIGKILLs, %d samples acknowledged, %d unique at the broker, %d duplicates (at-least-once), %d deductions",
		crashKills, len(f.acked), unique, dups, len(final.deductions))
	if os.Getenv("TOLLGATE_CRASH_REPORT") != "" {
		os.WriteFile(os.Getenv("TOLLGATE_CRASH_REPORT"), []byte(fmt.Sprintf("kills=%d acked=%d unique=%d duplicates=%d deductions=%d\n",
			crashKills, len(f.acked), unique, dups, len(final.deductions))), 0o644)
	}
	if len(final.deductions) < 5 {
		t.Fatalf("only %d deductions happened during the test", len(final.deductions))
	}
}

// verifyDelivered checks every acknowledged sample arrived with its data and
// at an effective time some deduction paid for.
func verifyDelivered(t *testing.T, sink *testkit.Sink, acked map[int64]int, ded []store.Deduction) {
	t.Helper()
	for seq, n := range acked {
		env := sink.Get(crashDevice, seq)
		if env == nil {
			t.Fatalf("acknowledged seq %d never reached the broker", seq)
		}
		if want := `{"n":` + strconv.Itoa(n) + `}`; string(env.Data) != want {
			t.Fatalf("seq %d carries %s, acknowledged for %s", seq, env.Data, want)
		}
		ts, err := time.Parse(time.RFC3339Nano, env.TS)
		if err != nil {
			t.Fatal(err)
		}
		if !paid(ded, ts.Unix()) {
			t.Fatalf("seq %d accepted at %v, which no durable deduction pays for", seq, env.TS)
		}
	}
}

func paid(ded []store.Deduction, sec int64) bool {
	for _, d := range ded {
		if sec >= d.At && sec < d.PaidUntil {
			return true
		}
	}
	return false
}

// waitAll waits until every acknowledged seq arrived; it returns how many
// are still missing at the deadline.
func waitAll(sink *testkit.Sink, acked map[int64]int, timeout time.Duration) int {
	wall := clock.Clock(clock.Real{})
	deadline := wall.Now().Add(timeout)
	for {
		missing := 0
		for seq := range acked {
			if !sink.Has(crashDevice, seq) {
				missing++
			}
		}
		if missing == 0 || wall.Now().After(deadline) {
			return missing
		}
		time.Sleep(50 * time.Millisecond)
	}
}
