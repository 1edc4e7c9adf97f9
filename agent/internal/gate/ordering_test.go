package gate

import (
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/agent/internal/effclock"
	"github.com/tollgate-iot/tollgate/agent/internal/store"
	"github.com/tollgate-iot/tollgate/shared/clock"
)

// signalClock is a wall clock that tells the test each time it is read.
type signalClock struct {
	*clock.Fake
	read chan struct{}
}

func (s signalClock) Now() time.Time {
	t := s.Fake.Now()
	select {
	case s.read <- struct{}{}:
	default:
	}
	return t
}

// TestDecisionThatWaitedIsStampedInsideAPaidDay performs the race of two
// samples of one device at a day's end: A reads the time, then waits for
// the device's lock while B (later by a second) charges the next day. A
// must not be accepted at its first reading, which lies after the old
// day's end and before the new day's start — a sample no day pays for.
func TestDecisionThatWaitedIsStampedInsideAPaidDay(t *testing.T) {
	f := newFixture(t, dayLicense(10))
	sc := signalClock{Fake: f.clk, read: make(chan struct{}, 1)}
	f.eff = effclock.New(sc, store.ClockState{}, time.Hour)
	f.gate.clk = f.eff
	d := f.gate.Lookup(dev)
	if dec := f.gate.Decide(d); dec.Reason != OK { // charges the first day
		t.Fatalf("first sample: %v", dec.Reason)
	}
	f.clk.Advance(24*time.Hour + 500*time.Millisecond) // the first day is over
	<-sc.read                                          // drain the readings so far
	d.mu.Lock()
	done := make(chan Decision)
	go func() { done <- f.gate.Decide(d) }() // A
	<-sc.read                                // A has its first reading and waits for the lock
	f.clk.Advance(time.Second)
	// B, a second later, charges the second day while A waits.
	bEff, _ := f.eff.Now()
	l, r := f.gate.payer(d, *d.lics.Load(), 1, bEff)
	if r != OK || l == nil {
		t.Fatalf("B: %v", r)
	}
	d.mu.Unlock()
	a := <-done
	if a.Reason != OK {
		t.Fatalf("A: %v", a.Reason)
	}
	ded := f.ledger.deductions
	if len(ded) != 2 {
		t.Fatalf("%d deductions, want 2", len(ded))
	}
	sec := a.Eff / int64(time.Second)
	paid := false
	for _, x := range ded {
		paid = paid || (sec >= x.At && sec < x.PaidUntil)
	}
	if !paid {
		t.Fatalf("A stamped at %d, paid days %+v: a sample no day pays for", sec, ded)
	}
}
