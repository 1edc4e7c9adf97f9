package clock

import (
	"sort"
	"sync"
	"time"
)

// Fake is a settable clock for tests and simulations. Time moves only when
// Set or Advance is called; timers and tickers whose deadline has been
// reached fire during that call. Setting the time backwards is allowed, to
// simulate a device whose clock was tampered with; no timer fires then.
type Fake struct {
	mu      sync.Mutex
	now     time.Time
	waiters []*fakeWaiter
}

type fakeWaiter struct {
	at     time.Time
	period time.Duration // 0 for one-shot timers
	ch     chan time.Time
	done   bool
}

// NewFake returns a fake clock set to start.
func NewFake(start time.Time) *Fake { return &Fake{now: start} }

// Now returns the fake current time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// Advance moves the clock forward by d and fires whatever became due.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	t := f.now.Add(d)
	f.mu.Unlock()
	f.Set(t)
}

// Set moves the clock to t. Timers fire only when time moves forward.
func (f *Fake) Set(t time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = t
	// Fire in deadline order so that a ticker that became due several times
	// delivers (at most one buffered) tick, as time.Ticker does.
	sort.Slice(f.waiters, func(i, j int) bool { return f.waiters[i].at.Before(f.waiters[j].at) })
	kept := f.waiters[:0]
	for _, w := range f.waiters {
		if w.done {
			continue
		}
		if !w.at.After(t) {
			select {
			case w.ch <- w.at:
			default: // a slow reader drops ticks, like time.Ticker
			}
			if w.period == 0 {
				w.done = true
				continue
			}
			for !w.at.After(t) {
				w.at = w.at.Add(w.period)
			}
		}
		kept = append(kept, w)
	}
	f.waiters = kept
}

// NewTicker returns a ticker driven by Set and Advance.
func (f *Fake) NewTicker(d time.Duration) Ticker {
	if d <= 0 {
		panic("clock: non-positive interval for NewTicker")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	w := &fakeWaiter{at: f.now.Add(d), period: d, ch: make(chan time.Time, 1)}
	f.waiters = append(f.waiters, w)
	return &fakeTicker{f: f, w: w}
}

// After returns a channel that receives once the fake time reaches now+d.
func (f *Fake) After(d time.Duration) <-chan time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := &fakeWaiter{at: f.now.Add(d), ch: make(chan time.Time, 1)}
	if d <= 0 {
		w.ch <- f.now
		return w.ch
	}
	f.waiters = append(f.waiters, w)
	return w.ch
}

type fakeTicker struct {
	f *Fake
	w *fakeWaiter
}

func (t *fakeTicker) C() <-chan time.Time { return t.w.ch }

func (t *fakeTicker) Stop() {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	t.w.done = true
}
