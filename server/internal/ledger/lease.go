package ledger

import (
	"context"
	"errors"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/store"
)

// SchedulerLeaseTTL is how long the scheduler's lease lasts without
// renewal: a replica that dies is replaced by another within it (plus
// one renewal interval, SchedulerLeaseTTL/3).
const SchedulerLeaseTTL = 30 * time.Second

// lease is who holds the scheduler's lease and until when.
type lease struct {
	Holder string    `json:"holder"`
	Until  time.Time `json:"until"`
}

// AcquireLease takes or renews the scheduler's lease for holder (an id
// unique to one server process) for ttl: it answers true when holder
// holds it until now+ttl, false while another holder's lease runs. Over
// one PostgreSQL store, the serializable transaction makes two replicas
// that race for an expired lease agree on one winner.
func (lg *Ledger) AcquireLease(ctx context.Context, holder string, ttl time.Duration) (bool, error) {
	if holder == "" || ttl <= 0 {
		return false, invalid("a lease needs a holder and a positive duration")
	}
	held := false
	err := lg.db.Update(func(x *store.Txn) error {
		held = false
		now := lg.clock.Now()
		var cur lease
		if err := x.GetJSON(store.SchedulerLeaseKey(), &cur); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if cur.Holder != "" && cur.Holder != holder && now.Before(cur.Until) {
			return nil
		}
		held = true
		return x.PutJSON(store.SchedulerLeaseKey(), lease{Holder: holder, Until: now.Add(ttl)})
	})
	return held, err
}

// ReleaseLease gives the lease up if holder holds it (a replica shutting
// down), so that another takes over at once.
func (lg *Ledger) ReleaseLease(ctx context.Context, holder string) error {
	return lg.db.Update(func(x *store.Txn) error {
		var cur lease
		if err := x.GetJSON(store.SchedulerLeaseKey(), &cur); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			return err
		}
		if cur.Holder != holder {
			return nil
		}
		return x.Delete(store.SchedulerLeaseKey())
	})
}
