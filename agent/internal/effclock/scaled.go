package effclock

import (
	"time"

	"github.com/tollgate-iot/tollgate/shared/clock"
)

// Scaled is a wall clock that runs speed times faster than the real one
// from a fixed origin, for simulations that must survive restarts (the
// origin is given, not taken at start, so that time stays continuous across
// processes). Timers and tickers run at real speed: they pace I/O, not
// license time.
type Scaled struct {
	Origin time.Time
	Speed  float64
}

// Now returns origin + (real now − origin) × speed.
func (s Scaled) Now() time.Time {
	real := clock.Real{}.Now()
	return s.Origin.Add(time.Duration(float64(real.Sub(s.Origin)) * s.Speed))
}

// NewTicker returns a real-time ticker.
func (Scaled) NewTicker(d time.Duration) clock.Ticker { return clock.Real{}.NewTicker(d) }

// After returns a real-time timer channel.
func (Scaled) After(d time.Duration) <-chan time.Time { return clock.Real{}.After(d) }
