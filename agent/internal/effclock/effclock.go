// Package effclock is the agent's effective clock (docs/design.md#time): a time that
// never goes backwards, survives restarts, and tells a clock that was set
// back on purpose (tamper) from one that was never set (a gateway whose RTC
// lost power and booted at 1970).
//
// Rules, all in Unix nanoseconds:
//   - hw is the highest time this agent has accepted as real; it is
//     persisted, and st is the newest server-signed time seen (token and
//     revocation-list issue times).
//   - A plausible wall clock w (after limits.MinPlausibleUnix) gives
//     effective time max(w, hw, st). If w < hw − tolerance the clock was set
//     back: the agent is in the tamper state and refuses samples until the
//     wall clock is put right again.
//   - An implausible wall clock is "not set": the agent anchors at
//     max(hw, st) and advances by the wall clock's own progress, so it keeps
//     enforcing (windows, days, budgets) on a sane time.
//
// Now is the hot path: a few atomic loads and at most one CAS, no locks, no
// allocation.
package effclock

import (
	"sync/atomic"
	"time"

	"github.com/tollgate-iot/tollgate/agent/internal/limits"
	"github.com/tollgate-iot/tollgate/agent/internal/store"
	"github.com/tollgate-iot/tollgate/shared/clock"
)

const minPlausible = int64(limits.MinPlausibleUnix) * int64(time.Second)

// Clock is the effective clock. It is safe for concurrent use.
type Clock struct {
	wall      clock.Clock
	tolerance int64

	hw atomic.Int64
	st atomic.Int64

	// anchorWall/anchorEff pin the effective time while the wall clock is
	// not set; anchorWall is the wall reading + 1, 0 meaning not anchored.
	anchorWall atomic.Int64
	anchorEff  atomic.Int64

	tamper       atomic.Bool
	tamperEvents atomic.Int64
}

// New returns an effective clock over wall, restored from the persisted
// state. A tolerance <= 0 means limits.DefaultClockTolerance.
func New(wall clock.Clock, st store.ClockState, tolerance time.Duration) *Clock {
	if tolerance <= 0 {
		tolerance = limits.DefaultClockTolerance
	}
	c := &Clock{wall: clock.OrReal(wall), tolerance: int64(tolerance)}
	c.hw.Store(st.HighWater * int64(time.Second))
	c.st.Store(st.ServerTime * int64(time.Second))
	return c
}

// Now returns the effective time in Unix nanoseconds and whether the agent
// is in the tamper state.
func (c *Clock) Now() (eff int64, tamper bool) {
	w := c.wall.Now().UnixNano()
	if w < minPlausible {
		return c.unset(w), c.setTamper(false)
	}
	c.anchorWall.Store(0)
	hw := c.hw.Load()
	if w < hw-c.tolerance {
		return max(hw, c.st.Load()), c.setTamper(true)
	}
	c.raise(w)
	return max(w, hw, c.st.Load()), c.setTamper(false)
}

// unset advances from an anchor while the wall clock is implausible.
func (c *Clock) unset(w int64) int64 {
	// anchorWall holds w+1 so that 0 can mean "not anchored" even at w=0.
	aw := c.anchorWall.Load()
	if aw == 0 || w+1 < aw {
		// First sight of an unset clock (or a reboot into it): anchor at the
		// highest time known. CAS so that racing callers agree on one anchor.
		if c.anchorWall.CompareAndSwap(aw, w+1) {
			c.anchorEff.Store(max(c.hw.Load(), c.st.Load()))
		}
		aw = c.anchorWall.Load()
	}
	eff := max(c.anchorEff.Load()+(w+1-aw), c.hw.Load())
	c.raise(eff)
	return eff
}

func (c *Clock) raise(t int64) {
	for {
		hw := c.hw.Load()
		if t <= hw || c.hw.CompareAndSwap(hw, t) {
			return
		}
	}
}

func (c *Clock) setTamper(on bool) bool {
	if c.tamper.Load() != on && c.tamper.CompareAndSwap(!on, on) && on {
		c.tamperEvents.Add(1)
	}
	return on
}

// ObserveServerTime records a server-signed time (Unix seconds), which the
// effective time never falls behind.
func (c *Clock) ObserveServerTime(unix int64) {
	t := unix * int64(time.Second)
	for {
		st := c.st.Load()
		if t <= st || c.st.CompareAndSwap(st, t) {
			return
		}
	}
}

// TamperEvents counts entries into the tamper state since start.
func (c *Clock) TamperEvents() int64 { return c.tamperEvents.Load() }

// State returns what must be persisted, rounded up to whole seconds so that
// a restart never moves the high-water mark back.
func (c *Clock) State() store.ClockState {
	sec := int64(time.Second)
	return store.ClockState{
		HighWater:  (c.hw.Load() + sec - 1) / sec,
		ServerTime: c.st.Load() / sec,
	}
}
