// Package pattern schedules a simulated device's samples in simulated time.
//
// Every pattern sends --rate samples per hour on average, so that a day
// always carries rate × 24 samples; the patterns differ in when:
//
//   - steady: rate samples every hour, evenly spaced;
//   - shift8h: a machine running one 8-hour shift a day (06:00–14:00 UTC of
//     the simulated clock): 3 × rate samples in each hour of the shift,
//     evenly spaced, nothing outside it (docs/design.md#enforcement-on-the-agent: such a machine may burst
//     to 3× its hourly rate within its 24-hour budget);
//   - burst: every 4th hour (00:00, 04:00, … UTC) 4 × rate samples within
//     the first minute of the hour, nothing otherwise.
//
// A schedule is a pure function of the hour, so the instants of a device's
// samples do not depend on how often the driver asks.
package pattern

import (
	"errors"
	"fmt"
	"time"
)

// ErrUnknown reports a pattern name that is not one of Names.
var ErrUnknown = errors.New("unknown pattern")

// Kind names a pattern.
type Kind uint8

// The patterns.
const (
	Steady Kind = iota + 1
	Shift8h
	Burst
)

// Names lists the patterns as --pattern takes them.
var Names = []string{"steady", "shift8h", "burst"}

// Shape constants of the patterns.
const (
	// ShiftStartHour is the hour (UTC, simulated) at which shift8h starts.
	ShiftStartHour = 6
	// ShiftHours is the length of the shift.
	ShiftHours = 8
	// BurstEvery is the period of burst, in hours.
	BurstEvery = 4
	// BurstSpread is how much of its hour a burst takes.
	BurstSpread = time.Minute
)

// Parse reads a pattern name.
func Parse(s string) (Kind, error) {
	for i, n := range Names {
		if s == n {
			return Kind(i + 1), nil
		}
	}
	if len(s) > 32 {
		s = s[:32] + "…"
	}
	return 0, fmt.Errorf("%w %q (want steady, shift8h or burst)", ErrUnknown, s)
}

// String returns the pattern's name.
func (k Kind) String() string {
	if k < Steady || k > Burst {
		return fmt.Sprintf("pattern(%d)", uint8(k))
	}
	return Names[k-1]
}

// Pattern is a kind at an average rate of Rate samples per hour.
type Pattern struct {
	Kind Kind
	Rate int
}

// hour returns how many samples the hour starting at start carries and over
// how much of the hour, from its start, they are evenly spread.
func (p Pattern) hour(start time.Time) (n int64, spread int64) {
	h := start.UTC().Hour()
	switch p.Kind {
	case Steady:
		return int64(p.Rate), int64(time.Hour)
	case Shift8h:
		if h >= ShiftStartHour && h < ShiftStartHour+ShiftHours {
			return 3 * int64(p.Rate), int64(time.Hour)
		}
	case Burst:
		if h%BurstEvery == 0 {
			return BurstEvery * int64(p.Rate), int64(BurstSpread)
		}
	}
	return 0, 0
}

// Count returns how many samples are scheduled in (from, to].
func (p Pattern) Count(from, to time.Time) int {
	total := 0
	p.each(from, to, func(hs time.Time, n, spread, lo, hi int64) { total += int(hi - lo) })
	return total
}

// Append appends the instants of the samples scheduled in (from, to], in
// order, to dst.
func (p Pattern) Append(dst []time.Time, from, to time.Time) []time.Time {
	p.each(from, to, func(hs time.Time, n, spread, lo, hi int64) {
		for i := lo; i < hi; i++ {
			dst = append(dst, hs.Add(time.Duration(spread*i/n)))
		}
	})
	return dst
}

// each calls fn for every hour overlapping (from, to] with the range
// [lo, hi) of its sample indices whose instants fall in (from, to].
func (p Pattern) each(from, to time.Time, fn func(hs time.Time, n, spread, lo, hi int64)) {
	if !to.After(from) || p.Rate <= 0 {
		return
	}
	for hs := from.UTC().Truncate(time.Hour); !hs.After(to); hs = hs.Add(time.Hour) {
		n, spread := p.hour(hs)
		if n == 0 {
			continue
		}
		lo := firstAfter(n, spread, int64(from.Sub(hs)))
		hi := firstAfter(n, spread, int64(to.Sub(hs)))
		if hi > lo {
			fn(hs, n, spread, lo, hi)
		}
	}
}

// firstAfter returns the smallest index i in [0, n] whose instant
// spread×i/n (integer nanoseconds from the hour's start) is after off.
func firstAfter(n, spread, off int64) int64 {
	if off < 0 {
		return 0
	}
	if off >= spread {
		return n
	}
	i := off * n / spread // instant(i) ≤ off, give or take rounding
	for i > 0 && spread*(i-1)/n > off {
		i--
	}
	for i < n && spread*i/n <= off {
		i++
	}
	return i
}
