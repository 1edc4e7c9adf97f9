package syncer

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/agent/internal/limits"
	"github.com/tollgate-iot/tollgate/shared/clock"
)

// seq returns the values in turn, the last one after.
func seq(vs ...float64) func() float64 {
	i := 0
	return func() float64 {
		v := vs[min(i, len(vs)-1)]
		i++
		return v
	}
}

var (
	retryable = &Error{Code: "network", Err: ErrNetwork, retry: true}
	permanent = &Error{Code: "invalid_report", Err: ErrRefused}
)

func TestScheduleJitterAndBackoff(t *testing.T) {
	// Rand 0.5 is the middle of the jitter: waits are exact.
	s := DefaultSchedule(seq(0.5))
	want := []struct {
		err  error
		wait time.Duration
	}{
		{nil, limits.SyncInterval},
		{retryable, limits.SyncBackoffMin},
		{retryable, 2 * limits.SyncBackoffMin},
		{retryable, 4 * limits.SyncBackoffMin},
		{permanent, limits.SyncInterval}, // a contract error waits a normal interval
		{retryable, limits.SyncBackoffMin},
	}
	for i, w := range want {
		if got := s.Next(w.err); got != w.wait {
			t.Fatalf("step %d (%v): wait %s, want %s", i, w.err, got, w.wait)
		}
	}
	for range 20 {
		s.Next(retryable)
	}
	if got := s.Next(retryable); got != limits.SyncBackoffMax {
		t.Fatalf("backoff not capped: %s", got)
	}
	// The jitter's extremes: ±20 %.
	lo, hi := DefaultSchedule(seq(0)), DefaultSchedule(seq(0.999999))
	if got := lo.Next(nil); got != limits.SyncInterval*80/100 {
		t.Fatalf("low jitter %s", got)
	}
	if got := hi.Next(nil); got < limits.SyncInterval*119/100 || got > limits.SyncInterval*120/100 {
		t.Fatalf("high jitter %s", got)
	}
	if got := DefaultSchedule(seq(0.5)).First(); got != limits.SyncFirstDelayMax/2 {
		t.Fatalf("first delay %s", got)
	}
}

func TestLoopOnFakeClock(t *testing.T) {
	start := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	fake := &waitClock{Fake: clock.NewFake(start), waiting: make(chan struct{}, 1)}
	calls := make(chan time.Duration, 16)
	results := []error{retryable, retryable, nil, nil}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		n := 0
		Loop(ctx, fake, DefaultSchedule(seq(0.5)), nil, func(context.Context) error {
			calls <- fake.Now().Sub(start)
			err := results[min(n, len(results)-1)]
			n++
			return err
		})
	}()
	// Expected sync times: first delay, then backoff 10 s, 20 s, then the
	// interval twice.
	at := limits.SyncFirstDelayMax / 2
	want := []time.Duration{at}
	for _, d := range []time.Duration{limits.SyncBackoffMin, 2 * limits.SyncBackoffMin, limits.SyncInterval, limits.SyncInterval} {
		at += d
		want = append(want, at)
	}
	for i, w := range want {
		// Step just short of the deadline: nothing may fire; then reach it.
		<-fake.waiting // the loop registered its next wait
		fake.Set(start.Add(w - time.Millisecond))
		select {
		case got := <-calls:
			t.Fatalf("sync %d fired early at %s", i, got)
		case <-time.After(10 * time.Millisecond):
		}
		fake.Set(start.Add(w))
		select {
		case got := <-calls:
			if got != w {
				t.Fatalf("sync %d at %s, want %s", i, got, w)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("sync %d did not run at %s", i, w)
		}
	}
	cancel()
	<-done
}

// TestLoopKickedOnReconnect: a kick (the broker connection came back) runs
// a sync out of turn after the jitter; a burst of kicks right after a sync
// is one sync, SyncOnConnectMinGap after the last one started; the
// periodic schedule then restarts from it; while backing off after failed
// syncs (the network was down), a reconnect still brings the sync forward,
// to the minimum gap.
func TestLoopKickedOnReconnect(t *testing.T) {
	start := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	fake := &waitClock{Fake: clock.NewFake(start), waiting: make(chan struct{}, 1)}
	calls := make(chan time.Duration, 16)
	kick := make(chan struct{}, 1)
	// kickNow kicks and waits until the loop took the kick in (each kick
	// makes it wait anew), so that moving the fake time comes after.
	kickNow := func() {
		kick <- struct{}{}
		<-fake.waiting
	}
	results := []error{nil, nil, nil, retryable, retryable, retryable, nil}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		n := 0
		Loop(ctx, fake, DefaultSchedule(seq(0.5)), kick, func(context.Context) error {
			calls <- fake.Now().Sub(start)
			n++
			return results[min(n-1, len(results)-1)]
		})
	}()
	// expect moves the fake time to just before w (no sync) and to w (a
	// sync), then waits until the loop registered its next wait.
	expect := func(i int, w time.Duration) {
		t.Helper()
		fake.Set(start.Add(w - time.Millisecond))
		select {
		case got := <-calls:
			t.Fatalf("sync %d fired early at %s", i, got)
		case <-time.After(10 * time.Millisecond):
		}
		fake.Set(start.Add(w))
		select {
		case got := <-calls:
			if got != w {
				t.Fatalf("sync %d at %s, want %s", i, got, w)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("sync %d did not run at %s", i, w)
		}
		<-fake.waiting
	}
	<-fake.waiting // the first wait
	// Connected before the first scheduled sync (at FirstMax/2): it comes
	// after the kick's jitter (KickJitterMax/2) instead.
	kickNow()
	jitter := limits.SyncOnConnectJitterMax / 2
	expect(0, jitter)
	// A burst of reconnects right after that sync: one sync, no sooner
	// than the minimum gap after the last one started.
	for range 5 {
		kickNow()
	}
	second := jitter + limits.SyncOnConnectMinGap
	expect(1, second)
	// No more kicks: the periodic schedule from the last sync.
	third := second + limits.SyncInterval
	expect(2, third)
	// The network goes: three failed syncs back off 10, 20, then 40 s.
	// The broker connection comes back right after the third: the sync
	// comes 30 s after it, not 40.
	at := third + limits.SyncInterval
	expect(3, at)
	at += limits.SyncBackoffMin
	expect(4, at)
	at += 2 * limits.SyncBackoffMin
	expect(5, at)
	kickNow()
	expect(6, at+limits.SyncOnConnectMinGap)
	select {
	case got := <-calls:
		t.Fatalf("an extra sync at %s", got)
	default:
	}
	cancel()
	<-done
}

// waitClock tells when the loop has registered a wait, so that the test
// moves the fake time only after.
type waitClock struct {
	*clock.Fake
	waiting chan struct{}
}

func (w *waitClock) After(d time.Duration) <-chan time.Time {
	ch := w.Fake.After(d)
	w.waiting <- struct{}{}
	return ch
}

func TestRetryableOnlyForSyncErrors(t *testing.T) {
	if Retryable(errors.New("plain")) || Retryable(permanent) || !Retryable(retryable) {
		t.Fatal("Retryable misclassifies")
	}
}
