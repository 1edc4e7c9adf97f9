package runtime

import (
	"sync"

	"github.com/tollgate-iot/tollgate/agent/internal/gate"
	"github.com/tollgate-iot/tollgate/agent/internal/limits"
	"github.com/tollgate-iot/tollgate/agent/internal/store"
)

// refusedFlush serializes the flushes of refused-per-hour counts (the
// background flush and the one at shutdown): each adds what grew since the
// last one, so two at once would add it twice.
var refusedFlush sync.Mutex

// devRefused is one device's refused hours waiting to be persisted.
type devRefused struct {
	d     *gate.Device
	hours []gate.RefusedHour
}

// refusedTotals returns persisted + live refusal counts by reason name.
func (a *Agent) refusedTotals() map[string]int64 {
	out := make(map[string]int64, len(a.refusedBase))
	for k, v := range a.refusedBase {
		out[k] = v
	}
	live := a.gate.Refused()
	for r, n := range live {
		if n > 0 {
			out[gate.Reason(r).String()] += n
		}
	}
	return out
}

// persistCounters writes the refusal counters (by reason, and per device
// and hour for sync) and the clock in one transaction: counters persist in
// batches (every second while running and at shutdown), never per sample.
// A crash loses at most the last interval of refusal counts; accepted-sample
// counts are persisted with the samples.
func (a *Agent) persistCounters() error {
	refusedFlush.Lock()
	defer refusedFlush.Unlock()
	totals := a.refusedTotals()
	cs := a.clk.State()
	var pending []devRefused
	for _, d := range a.gate.Devices() {
		if hs := d.RefusedPending(nil); len(hs) > 0 {
			pending = append(pending, devRefused{d, hs})
		}
	}
	err := a.st.Update(func(txn *store.Txn) error {
		for reason, n := range totals {
			if err := store.SetInt(txn, store.KeyRefused(reason), n); err != nil {
				return err
			}
		}
		for _, p := range pending {
			newest := int64(0)
			for _, h := range p.hours {
				if err := store.AddRefused(txn, p.d.ID, h.Hour, h.Refused-h.Saved, reasonMap(&h)); err != nil {
					return err
				}
				newest = max(newest, h.Hour)
			}
			// Keep the hours the agent keeps buckets for (docs/design.md#enforcement-on-the-agent: 7 days).
			if err := store.PruneRefused(txn, p.d.ID, newest-limits.BudgetHours+1); err != nil {
				return err
			}
		}
		if r := a.current(); r != nil {
			if err := r.ob.PersistDropped(txn); err != nil {
				return err
			}
		}
		return store.SetJSON(txn, store.KeyClock(), cs)
	})
	if err != nil {
		return err
	}
	for _, p := range pending {
		for _, h := range p.hours {
			p.d.RefusedSaved(h)
		}
	}
	return nil
}

// reasonMap names the refusals by reason of h not saved yet (nil: none).
func reasonMap(h *gate.RefusedHour) map[string]int64 {
	var out map[string]int64
	for r, n := range h.By {
		if n > 0 && gate.Reason(r) != gate.OK {
			if out == nil {
				out = map[string]int64{}
			}
			out[gate.Reason(r).String()] = n
		}
	}
	return out
}

// storedQueue counts the outbox when the agent is not running.
func (a *Agent) storedQueue() (depth, dropped int64) {
	dropped, _ = a.st.Int(store.KeyDropped())
	depth, _ = a.st.Count(store.PrefixOutbox())
	return depth, dropped
}
