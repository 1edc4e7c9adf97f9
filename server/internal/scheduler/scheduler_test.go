package scheduler

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/shared/clock"
)

// fakeLedger has due work that appears when the fake clock passes due.
type fakeLedger struct {
	clk     *clock.Fake
	due     time.Time
	pending int
	old     int // hourly counts past retention, pruned two per call
	notices int // notices due, all issued by one call
}

func (f *fakeLedger) IssueNotices(ctx context.Context) (int, error) {
	n := f.notices
	f.notices = 0
	return n, nil
}

func (f *fakeLedger) PruneRetention(ctx context.Context) (int, error) {
	n := min(f.old, 2)
	f.old -= n
	return n, nil
}

func (f *fakeLedger) ApplyDue(ctx context.Context) (int, int, error) {
	if f.clk.Now().Before(f.due) || f.pending == 0 {
		return 0, 0, nil
	}
	n := min(f.pending, 2) // batches of two
	f.pending -= n
	return n, 0, nil
}

func TestRunOnceDrainsInBatches(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	f := &fakeLedger{clk: clk, due: clk.Now(), pending: 5}
	r, e, err := RunOnce(context.Background(), f)
	if err != nil || r != 5 || e != 0 || f.pending != 0 {
		t.Fatalf("RunOnce = %d, %d, %v; %d left", r, e, err, f.pending)
	}
}

func TestRunAppliesAtTickAndStops(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	f := &fakeLedger{clk: clk, due: clk.Now().Add(90 * time.Second), pending: 3}
	passes := make(chan int, 10)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		Run(ctx, Options{Ledger: f, Clock: clk, Interval: time.Minute, OnPass: func(r, e int, err error) { passes <- r }})
		close(done)
	}()
	want := []int{0, 0, 3} // start, +1 min (not due), +2 min (due)
	for i, w := range want {
		if i > 0 {
			clk.Advance(time.Minute)
		}
		select {
		case got := <-passes:
			if got != w {
				t.Fatalf("pass %d renewed %d, want %d", i, got, w)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("pass %d did not happen", i)
		}
	}
	cancel()
	clk.Advance(time.Minute)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop")
	}
}

type failing struct{}

func (failing) ApplyDue(context.Context) (int, int, error)  { return 0, 0, errors.New("disk full") }
func (failing) PruneRetention(context.Context) (int, error) { return 0, errors.New("disk full") }
func (failing) IssueNotices(context.Context) (int, error)   { return 0, errors.New("disk full") }

func TestRunOnceReportsErrors(t *testing.T) {
	if _, _, err := RunOnce(context.Background(), failing{}); err == nil {
		t.Fatal("error swallowed")
	}
}

// TestRunPrunesEachPass: every pass runs one bounded retention batch, so
// a backlog is worked off over the following ticks.
func TestRunPrunesEachPass(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	f := &fakeLedger{clk: clk, old: 5}
	pruned := make(chan int, 10)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		Run(ctx, Options{Ledger: f, Clock: clk, Interval: time.Minute, OnPrune: func(n int, err error) { pruned <- n }})
		close(done)
	}()
	for i, w := range []int{2, 2, 1, 0} {
		if i > 0 {
			clk.Advance(time.Minute)
		}
		select {
		case got := <-pruned:
			if got != w {
				t.Fatalf("pass %d pruned %d, want %d", i, got, w)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("pass %d did not happen", i)
		}
	}
	cancel()
	<-done
}

// TestRunIssuesNoticesEachPass: every pass asks the ledger for the notices
// due, and reports how many it issued and a failure.
func TestRunIssuesNoticesEachPass(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	f := &fakeLedger{clk: clk, notices: 3}
	issued := make(chan int, 10)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		Run(ctx, Options{Ledger: f, Clock: clk, Interval: time.Minute, OnNotices: func(n int, err error) { issued <- n }})
		close(done)
	}()
	for i, w := range []int{3, 0} {
		if i > 0 {
			clk.Advance(time.Minute)
		}
		select {
		case got := <-issued:
			if got != w {
				t.Fatalf("pass %d issued %d, want %d", i, got, w)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("pass %d did not happen", i)
		}
	}
	cancel()
	clk.Advance(time.Minute)
	<-done

	errs := make(chan error, 1)
	ctx, cancel = context.WithCancel(context.Background())
	go Run(ctx, Options{Ledger: failing{}, Clock: clk, Interval: time.Minute, OnNotices: func(_ int, err error) {
		select {
		case errs <- err:
		default:
		}
	}})
	if err := <-errs; err == nil {
		t.Fatal("a failed notice pass reported no error")
	}
	cancel()
}

// TestRunPassesOnlyWithTheLease: a process without the lease makes no
// pass; it renews on its lease ticker, and once it holds the lease the
// next tick passes.
func TestRunPassesOnlyWithTheLease(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	f := &fakeLedger{clk: clk, due: clk.Now(), pending: 1}
	var mu sync.Mutex
	mine := false
	asks := make(chan bool, 100)
	passes := make(chan int, 10)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		Run(ctx, Options{Ledger: f, Clock: clk, Interval: time.Minute, LeaseEvery: 10 * time.Second,
			Lease: func(context.Context) (bool, error) {
				mu.Lock()
				defer mu.Unlock()
				asks <- mine
				return mine, nil
			},
			OnPass: func(r, _ int, _ error) { passes <- r }})
		close(done)
	}()
	<-asks // the first pass's ask: refused
	clk.Advance(10 * time.Second)
	<-asks // the renewal: still refused
	select {
	case n := <-passes:
		t.Fatalf("a pass (%d renewed) without the lease", n)
	default:
	}
	mu.Lock()
	mine = true
	mu.Unlock()
	clk.Advance(50 * time.Second) // the renewals and the minute's tick
	select {
	case n := <-passes:
		if n != 1 {
			t.Fatalf("the pass with the lease renewed %d, want 1", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no pass once the lease was held")
	}
	cancel()
	clk.Advance(time.Minute)
	<-done
}
