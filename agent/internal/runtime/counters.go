package runtime

import (
	badger "github.com/dgraph-io/badger/v4"

	"github.com/tollgate-iot/tollgate/agent/internal/gate"
	"github.com/tollgate-iot/tollgate/agent/internal/store"
)

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

// persistCounters writes the refusal counters and the clock in one
// transaction: counters persist in batches (every second while running and
// at shutdown), never per sample. A crash loses at most the last interval
// of refusal counts; accepted-sample counts are persisted with the samples.
func (a *Agent) persistCounters() error {
	totals := a.refusedTotals()
	cs := a.clk.State()
	return a.st.DB().Update(func(txn *badger.Txn) error {
		for reason, n := range totals {
			if err := store.SetInt(txn, store.KeyRefused(reason), n); err != nil {
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
}

// storedQueue counts the outbox when the agent is not running.
func (a *Agent) storedQueue() (depth, dropped int64) {
	dropped, _ = a.st.Int(store.KeyDropped())
	_ = a.st.DB().View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: store.PrefixOutbox()})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			depth++
		}
		return nil
	})
	return depth, dropped
}
