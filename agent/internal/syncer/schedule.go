package syncer

import (
	"context"
	"time"

	"github.com/tollgate-iot/tollgate/agent/internal/limits"
	"github.com/tollgate-iot/tollgate/shared/clock"
)

// Schedule decides how long to wait before the next background sync:
// Interval ± JitterPercent after a success or a non-retryable error, and
// an exponential backoff from BackoffMin up to BackoffMax (jittered the
// same way) after consecutive retryable errors.
type Schedule struct {
	Interval      time.Duration
	JitterPercent int
	FirstMax      time.Duration
	BackoffMin    time.Duration
	BackoffMax    time.Duration
	// Rand returns a uniform value in [0, 1).
	Rand func() float64

	failures int
}

// DefaultSchedule is the schedule of `run`, from the named limits.
func DefaultSchedule(rnd func() float64) *Schedule {
	return &Schedule{Interval: limits.SyncInterval, JitterPercent: limits.SyncJitterPercent,
		FirstMax: limits.SyncFirstDelayMax, BackoffMin: limits.SyncBackoffMin, BackoffMax: limits.SyncBackoffMax, Rand: rnd}
}

// First is the wait before the first sync: uniform in [0, FirstMax).
func (s *Schedule) First() time.Duration {
	return time.Duration(s.Rand() * float64(s.FirstMax))
}

// Next is the wait after a sync that ended with err.
func (s *Schedule) Next(err error) time.Duration {
	if err == nil || !Retryable(err) {
		s.failures = 0
		return s.jitter(s.Interval)
	}
	s.failures++
	d := s.BackoffMin
	for i := 1; i < s.failures && d < s.BackoffMax; i++ {
		d *= 2
	}
	return s.jitter(min(d, s.BackoffMax))
}

// jitter spreads d uniformly over d ± JitterPercent.
func (s *Schedule) jitter(d time.Duration) time.Duration {
	span := float64(d) * float64(s.JitterPercent) / 100
	return d + time.Duration((2*s.Rand()-1)*span)
}

// Loop runs sync on the schedule, with waits on timers, until ctx ends.
// Errors are the caller's to log (sync sees each one).
func Loop(ctx context.Context, timers clock.Clock, s *Schedule, sync func(context.Context) error) {
	wait := s.First()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timers.After(wait):
		}
		wait = s.Next(sync(ctx))
	}
}
