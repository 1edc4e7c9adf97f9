// Package simclock is firmware-sim's clock: the real one, run faster from
// a fixed origin exactly as tollgate-agent's --clock-speed/--clock-origin
// run theirs, so that the simulated devices and the agents they feed agree
// on the simulated time (what hour of the shift it is, when a day is over).
package simclock

import (
	"time"

	"github.com/tollgate-iot/tollgate/shared/clock"
)

// Scaled reads Origin + (real now − Origin) × Speed.
type Scaled struct {
	Real   clock.Clock
	Origin time.Time
	Speed  float64
}

// Now returns the simulated time.
func (s Scaled) Now() time.Time {
	real := clock.OrReal(s.Real).Now()
	return s.Origin.Add(time.Duration(float64(real.Sub(s.Origin)) * s.Speed))
}

// RealAfter returns how much real time passes until simulated time t.
func (s Scaled) RealAfter(t time.Time) time.Duration {
	d := t.Sub(s.Now())
	if d <= 0 {
		return 0
	}
	return time.Duration(float64(d) / s.Speed)
}
