package ledger

import (
	"bytes"
	"context"

	"github.com/tollgate-iot/tollgate/server/internal/store"
)

// ApplyDue applies what the clock has reached: term licenses whose period
// ended renew for another period (aligned as created) or expire, each with
// an audit entry and, when bound, a new token; and the revocation list is
// re-signed when half its lifetime has passed. It handles at most
// periodBatch licenses and reports how many, so the scheduler calls it
// until it returns 0.
func (lg *Ledger) ApplyDue(ctx context.Context) (renewed, expired int, err error) {
	err = lg.update(func(o *op) error {
		renewed, expired = 0, 0
		limit := store.PeriodEndKey(o.now.Unix()+1, "")
		var due []string
		err := o.x.Scan(store.PeriodEndPrefix(), nil, false, func(k, _ []byte) (bool, error) {
			if bytes.Compare(k, limit) >= 0 || len(due) == periodBatch {
				return false, nil
			}
			due = append(due, store.LastPart(k))
			return true, nil
		})
		if err != nil {
			return err
		}
		sys := SystemActor()
		for _, id := range due {
			l, err := o.license(id)
			if err != nil {
				return err
			}
			before := *l
			action := "license.expire"
			if l.renewsAt(l.End) {
				action = "license.renew_period"
				for !l.End.After(o.now) && l.renewsAt(l.End) {
					l.Start, l.End = l.End, PeriodEnd(l.End, l.DurationMonths, l.Alignment)
				}
				renewed++
			}
			if l.End.After(o.now) {
				if err := o.reissue(l); err != nil {
					return err
				}
			} else {
				l.ExpiryRecorded = true
				expired++
				if err := o.reissue(l); err != nil { // drops the token
					return err
				}
			}
			if err := o.putLicense(&before, l); err != nil {
				return err
			}
			if err := o.audit(sys, action, "license", l.ID, l.CustomerID, &before, l); err != nil {
				return err
			}
		}
		var cur RevocationHead
		if err := o.x.GetJSON(store.RevocationListKey(), &cur); err != nil || cur.NextUpdate.Sub(o.now) < o.lg.rlLife/2 {
			o.rlDirty = true
		}
		if o.rlDirty { // the head moves to now: what ended by now is in no list
			return o.pruneRevocationMarkers()
		}
		return nil
	})
	return renewed, expired, err
}
