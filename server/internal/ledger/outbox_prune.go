package ledger

import (
	"context"

	"github.com/tollgate-iot/tollgate/server/internal/store"
)

// PruneOutbox deletes deliveries finished, and events recorded, more than
// OutboxRetention ago, at most MaxOutboxPrune of each per call (the
// deliverer calls it every pass). Pending deliveries stay; one
// redelivered after its event was pruned fails when due. Pruning an event
// cannot let its fact make it again: what stops a fact being recorded
// twice is the fact's own record (a sync record, a state that already
// changed), the event id only backs that up.
func (lg *Ledger) PruneOutbox(ctx context.Context) (int, error) {
	n := 0
	err := lg.update(func(o *op) error {
		cutoff := o.now.Add(-OutboxRetention).Unix()
		type timed struct {
			at int64
			id string
		}
		collect := func(p []byte) ([]timed, error) {
			var out []timed
			err := o.x.Scan(p, nil, false, func(k, _ []byte) (bool, error) {
				at, id, ok := store.TimedParts(p, k)
				if !ok || at >= cutoff || len(out) == MaxOutboxPrune {
					return false, nil
				}
				out = append(out, timed{at, id})
				return true, nil
			})
			return out, err
		}
		done, err := collect(store.DeliveryDonePrefix())
		if err != nil {
			return err
		}
		for _, t := range done {
			var d Delivery
			if err := o.x.GetJSON(store.DeliveryKey(t.id), &d); err == nil {
				if err := o.x.Delete(store.DeliveryByWebhookKey(d.WebhookID, d.Seq, d.ID)); err != nil {
					return err
				}
				if err := o.x.Delete(store.DeliveryKey(d.ID)); err != nil {
					return err
				}
			}
			if err := o.x.Delete(store.DeliveryDoneKey(t.at, t.id)); err != nil {
				return err
			}
		}
		evs, err := collect(store.EventAtPrefix())
		if err != nil {
			return err
		}
		for _, t := range evs {
			if err := o.x.Delete(store.EventKey(t.id)); err != nil {
				return err
			}
			if err := o.x.Delete(store.EventAtKey(t.at, t.id)); err != nil {
				return err
			}
		}
		n = len(done) + len(evs)
		return nil
	})
	return n, err
}
