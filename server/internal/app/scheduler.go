package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/tollgate-iot/tollgate/server/internal/scheduler"
)

// leaseHolder names this server process in the scheduler's lease: the
// host, the process id and a random part (a restarted process is a new
// holder).
func leaseHolder() string {
	host, _ := os.Hostname()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return host + "/" + strconv.Itoa(os.Getpid()) + "/" + hex.EncodeToString(b)
}

// runScheduler runs the scheduler until ctx ends, under the ledger's
// scheduler lease: of several servers on one PostgreSQL ledger one runs
// it, another takes over within --scheduler-lease of its death; on
// shutdown the lease is given up so that another takes over at once.
func (a *App) runScheduler(ctx context.Context, wg *sync.WaitGroup) {
	m, c := a.m, a.cfg
	holder := leaseHolder()
	var held atomic.Bool
	m.GaugeFunc("tollgate_scheduler_lease_held", "1 while this server process holds the scheduler's lease and runs it.", func() float64 {
		if held.Load() {
			return 1
		}
		return 0
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer func() {
			if held.Load() {
				if err := a.lg.ReleaseLease(context.WithoutCancel(ctx), holder); err != nil {
					a.log.Error("releasing the scheduler lease", "error", err)
				}
			}
		}()
		scheduler.Run(ctx, scheduler.Options{Ledger: a.lg, Clock: a.clk, Interval: c.SchedulerInterval, Logger: a.log,
			Lease: func(ctx context.Context) (bool, error) {
				return a.lg.AcquireLease(ctx, holder, a.cfg.SchedulerLease)
			},
			LeaseEvery: a.cfg.SchedulerLease / 3,
			OnLease:    held.Store,
			OnPass: func(renewed, expired int, err error) {
				m.Add("tollgate_scheduler_applied_total", float64(renewed), "renewed")
				m.Add("tollgate_scheduler_applied_total", float64(expired), "expired")
				if err != nil {
					m.Add("tollgate_scheduler_errors_total", 1)
				}
			},
			OnPrune: func(pruned int, err error) {
				m.Add("tollgate_retention_pruned_total", float64(pruned))
				if err != nil {
					m.Add("tollgate_scheduler_errors_total", 1)
				}
			},
			OnNotices: func(issued int, err error) {
				m.Add("tollgate_notices_issued_total", float64(issued))
				if err != nil {
					m.Add("tollgate_scheduler_errors_total", 1)
				}
			}})
	}()
}
