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
	// KickMinGap and KickJitterMax shape a sync asked for out of turn
	// (Loop's kick): see Kicked.
	KickMinGap    time.Duration
	KickJitterMax time.Duration
	// Rand returns a uniform value in [0, 1).
	Rand func() float64

	failures int
}

// DefaultSchedule is the schedule of `run`, from the named limits.
func DefaultSchedule(rnd func() float64) *Schedule {
	return &Schedule{Interval: limits.SyncInterval, JitterPercent: limits.SyncJitterPercent,
		FirstMax: limits.SyncFirstDelayMax, BackoffMin: limits.SyncBackoffMin, BackoffMax: limits.SyncBackoffMax,
		KickMinGap: limits.SyncOnConnectMinGap, KickJitterMax: limits.SyncOnConnectJitterMax, Rand: rnd}
}

// Kicked is the wait before a sync asked for out of turn, when the last
// sync started since ago (synced false: none yet): a uniform delay in
// [0, KickJitterMax), and at least until KickMinGap after the last sync
// started.
func (s *Schedule) Kicked(since time.Duration, synced bool) time.Duration {
	d := time.Duration(s.Rand() * float64(s.KickJitterMax))
	if synced && s.KickMinGap-since > d {
		d = s.KickMinGap - since
	}
	return d
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
// A receive on kick (the upstream broker connection came back: a push
// sent while the agent was away is lost) brings the next sync forward to
// Schedule.Kicked unless it is due sooner — also while backing off after
// failed syncs: they most likely failed for the same outage, which the
// reconnect says is over. Kicks before that sync starts are that one
// sync. One sync runs at a time, and the schedule restarts after each.
// Errors are the caller's to log (sync sees each one).
func Loop(ctx context.Context, timers clock.Clock, s *Schedule, kick <-chan struct{}, sync func(context.Context) error) {
	next := timers.Now().Add(s.First())
	var last time.Time // start of the last sync
	synced := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-kick:
			now := timers.Now()
			if at := now.Add(s.Kicked(now.Sub(last), synced)); at.Before(next) {
				next = at
			}
			continue
		case <-timers.After(next.Sub(timers.Now())):
		}
		last, synced = timers.Now(), true
		err := sync(ctx)
		next = timers.Now().Add(s.Next(err))
	}
}
