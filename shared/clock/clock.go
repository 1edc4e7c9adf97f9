// Package clock is the only place in Tollgate that reads the wall clock.
//
// Every component takes a Clock so that tests and simulations can run days
// in milliseconds with a Fake, and so that the agent can layer its
// tamper-resistant effective time on top of whatever the device reports.
package clock

import "time"

// Clock tells the time and makes timers. Implementations are safe for
// concurrent use.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// NewTicker returns a ticker that fires every d. It panics if d <= 0,
	// like time.NewTicker.
	NewTicker(d time.Duration) Ticker
	// After returns a channel that receives the time once d has passed.
	After(d time.Duration) <-chan time.Time
}

// Ticker is the part of *time.Ticker that Tollgate uses.
type Ticker interface {
	// C returns the channel on which ticks are delivered.
	C() <-chan time.Time
	// Stop turns the ticker off. It does not close the channel.
	Stop()
}

// Real is the wall clock.
type Real struct{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// NewTicker wraps time.NewTicker.
func (Real) NewTicker(d time.Duration) Ticker { return realTicker{time.NewTicker(d)} }

// After wraps time.After.
func (Real) After(d time.Duration) <-chan time.Time { return time.After(d) }

type realTicker struct{ t *time.Ticker }

func (r realTicker) C() <-chan time.Time { return r.t.C }
func (r realTicker) Stop()               { r.t.Stop() }

// OrReal returns c, or the real clock when c is nil, so that option structs
// can leave their clock unset.
func OrReal(c Clock) Clock {
	if c == nil {
		return Real{}
	}
	return c
}
