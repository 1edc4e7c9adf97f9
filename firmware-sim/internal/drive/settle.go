package drive

import (
	"context"
	"time"

	"github.com/tollgate-iot/tollgate/firmware-sim/internal/limits"
	"github.com/tollgate-iot/tollgate/shared/clock"
)

// Snapshot reads every agent's status before the run, as the base of the
// counts read after it.
func Snapshot(ctx context.Context, agents []*Agent) error {
	for _, a := range agents {
		st, err := a.Target.FetchStatus(ctx)
		if err != nil {
			return err
		}
		a.Before = st
	}
	return nil
}

// Settle waits, up to timeout, until every agent has accounted for the
// samples it was sent (bridged children's arrive through the local broker
// after the run) and its outbox stops draining — it is empty, or it has not
// shrunk for stall (an agent whose broker refuses it keeps its queue). It
// leaves each agent's final status in After and returns how long it waited.
func Settle(ctx context.Context, wall clock.Clock, agents []*Agent, timeout, stall time.Duration) (time.Duration, error) {
	wall = clock.OrReal(wall)
	start := wall.Now()
	type progress struct {
		depth int64
		since time.Time
	}
	seen := make([]progress, len(agents))
	for {
		all := true
		now := wall.Now()
		for i, a := range agents {
			if a.Settled {
				continue
			}
			st, err := a.Target.FetchStatus(ctx)
			if err != nil {
				return now.Sub(start), err
			}
			a.After = st
			if !accounted(a) {
				all = false
				continue
			}
			if st.Queue.Depth == 0 {
				a.Settled = true
				continue
			}
			if seen[i].since.IsZero() || st.Queue.Depth < seen[i].depth {
				seen[i] = progress{depth: st.Queue.Depth, since: now}
			}
			if now.Sub(seen[i].since) >= stall {
				a.Settled = true
				continue
			}
			all = false
		}
		if all {
			return now.Sub(start), nil
		}
		if now.Sub(start) >= timeout {
			return now.Sub(start), nil
		}
		select {
		case <-ctx.Done():
			return now.Sub(start), ctx.Err()
		case <-wall.After(limits.StatusPoll):
		}
	}
}

// accounted reports whether the agent's counts cover every sample sent to
// it: over HTTP each was answered; through the bridge, the children's
// accepted counts and the gateway's refusals must add up.
func accounted(a *Agent) bool {
	if a.Bridge == "" {
		return true
	}
	var sent int64
	for _, d := range a.Devices {
		sent += d.Sent
	}
	return BridgeAccepted(a)+a.After.RefusedTotal()-a.Before.RefusedTotal() >= sent
}

// BridgeAccepted sums the growth of the accepted counts of a gateway's
// simulated children between Before and After.
func BridgeAccepted(a *Agent) int64 {
	if a.Before == nil || a.After == nil {
		return 0
	}
	before := map[string]int64{}
	for _, c := range a.Before.Children {
		before[c.DeviceID] = c.Budget.AcceptedTotal
	}
	want := map[string]bool{}
	for _, d := range a.Devices {
		want[d.ID] = true
	}
	var n int64
	for _, c := range a.After.Children {
		if want[c.DeviceID] {
			n += c.Budget.AcceptedTotal - before[c.DeviceID]
		}
	}
	return n
}
