// Package scheduler applies what time brings to the ledger: term renewals
// and expiries at period end, the revocation list's periodic re-signing,
// the notices of licenses coming to their end, and the pruning of hourly
// counts older than their retention.
package scheduler

import (
	"context"
	"log/slog"
	"time"

	"github.com/tollgate-iot/tollgate/shared/clock"
)

// Ledger is the part of the ledger the scheduler drives.
type Ledger interface {
	ApplyDue(ctx context.Context) (renewed, expired int, err error)
	// PruneRetention deletes a bounded batch of hourly counts older than
	// their retention, continuing where the last call stopped.
	PruneRetention(ctx context.Context) (pruned int, err error)
	// IssueNotices writes a bounded batch of the license notices due now.
	IssueNotices(ctx context.Context) (issued int, err error)
}

// Options configures Run.
type Options struct {
	Ledger   Ledger
	Clock    clock.Clock
	Interval time.Duration // default one minute
	Logger   *slog.Logger
	// OnPass, if set, is called after every pass with its totals (metrics, tests).
	OnPass func(renewed, expired int, err error)
	// OnPrune, if set, is called after every pass's retention pruning with
	// the keys it deleted (metrics, tests).
	OnPrune func(pruned int, err error)
	// OnNotices, if set, is called after every pass's notices with how
	// many were issued (metrics, tests).
	OnNotices func(issued int, err error)
	// Lease, if set, takes or renews the lease that lets one server
	// process of several run the scheduler: a pass runs only while it is
	// held. It is renewed every LeaseEvery (default 10 s) besides before
	// each pass. Nil: this process always runs it (one server).
	Lease      func(ctx context.Context) (bool, error)
	LeaseEvery time.Duration
	// OnLease, if set, is told when this process gains or loses the lease.
	OnLease func(held bool)
}

// maxBatches bounds one pass, so that a backlog cannot hold the ledger's
// write lock for long; the next tick continues.
const maxBatches = 100

// RunOnce applies everything due now, in batches, and returns the totals.
func RunOnce(ctx context.Context, lg Ledger) (renewed, expired int, err error) {
	for range maxBatches {
		r, e, err := lg.ApplyDue(ctx)
		renewed, expired = renewed+r, expired+e
		if err != nil || r+e == 0 {
			return renewed, expired, err
		}
	}
	return renewed, expired, nil
}

// Run passes once at start and then on every tick until ctx ends; with
// a Lease, only while this process holds it.
func Run(ctx context.Context, o Options) {
	if o.Interval <= 0 {
		o.Interval = time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	clk := clock.OrReal(o.Clock)
	t := clk.NewTicker(o.Interval)
	defer t.Stop()
	var renew <-chan time.Time // nil without a lease: never fires
	if o.Lease != nil {
		if o.LeaseEvery <= 0 {
			o.LeaseEvery = 10 * time.Second
		}
		lt := clk.NewTicker(o.LeaseEvery)
		defer lt.Stop()
		renew = lt.C()
	}
	held := false
	hold := func() bool {
		if o.Lease == nil {
			return true
		}
		ok, err := o.Lease(ctx)
		if err != nil {
			o.Logger.Error("scheduler lease", "error", err)
			ok = false
		}
		if ok != held {
			held = ok
			o.Logger.Info("scheduler lease", "held", ok)
			if o.OnLease != nil {
				o.OnLease(ok)
			}
		}
		return ok
	}
	for {
		if hold() {
			pass(ctx, o)
		}
		for waiting := true; waiting; {
			select {
			case <-ctx.Done():
				return
			case <-renew:
				hold()
			case <-t.C():
				waiting = false
			}
		}
	}
}

// pass applies renewals and expiries, issues notices and prunes once.
func pass(ctx context.Context, o Options) {
	r, e, err := RunOnce(ctx, o.Ledger)
	switch {
	case err != nil:
		o.Logger.Error("scheduler pass failed", "error", err)
	case r+e > 0:
		o.Logger.Info("scheduler pass", "renewed", r, "expired", e)
	}
	if o.OnPass != nil {
		o.OnPass(r, e, err)
	}
	noticePass(ctx, o)
	prunePass(ctx, o)
}

// prunePass runs one bounded retention batch: a backlog is worked off one
// batch per tick.
func prunePass(ctx context.Context, o Options) {
	n, err := o.Ledger.PruneRetention(ctx)
	switch {
	case err != nil:
		o.Logger.Error("retention pruning failed", "error", err)
	case n > 0:
		o.Logger.Info("retention pruning", "pruned", n)
	}
	if o.OnPrune != nil {
		o.OnPrune(n, err)
	}
}

// noticePass issues the notices due now (the ledger bounds one call; a
// backlog is worked off over the following ticks).
func noticePass(ctx context.Context, o Options) {
	total, err := o.Ledger.IssueNotices(ctx)
	switch {
	case err != nil:
		o.Logger.Error("license notices failed", "error", err)
	case total > 0:
		o.Logger.Info("license notices", "issued", total)
	}
	if o.OnNotices != nil {
		o.OnNotices(total, err)
	}
}
