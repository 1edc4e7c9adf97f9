package ledger

import (
	"context"
	"strconv"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/store"
)

// seedBatch is how many licenses one transaction of the history seeding
// looks at.
const seedBatch = 256

// ListLicenseHistory returns the history of a license the actor sees,
// oldest first, after the cursor (an entry seq), at most limit entries.
func (lg *Ledger) ListLicenseHistory(ctx context.Context, a Actor, idOrSerial, cursor string, limit int) ([]HistoryEntry, string, error) {
	limit = PageLimit(limit)
	var out []HistoryEntry
	var next string
	err := lg.view(func(o *op) error {
		l, _, err := o.visibleLicense(a, idOrSerial)
		if err != nil {
			return err
		}
		var after []byte
		if cursor != "" {
			n, err := strconv.ParseInt(cursor, 10, 64)
			if err != nil || n < 1 {
				return invalid("cursor %q is not one this server issued", cursor)
			}
			after = store.LicenseHistoryKey(l.ID, n)
		}
		return o.x.Scan(store.LicenseHistoryPrefix(l.ID), after, true, func(_, v []byte) (bool, error) {
			if len(out) == limit {
				next = strconv.FormatInt(out[len(out)-1].Seq, 10)
				return false, nil
			}
			var e HistoryEntry
			if err := jsonUnmarshal(v, &e); err != nil {
				return false, err
			}
			out = append(out, e)
			return true, nil
		})
	})
	return out, next, err
}

// historyOf reads every entry of a license, oldest first.
func (o *op) historyOf(id string) ([]HistoryEntry, error) {
	var out []HistoryEntry
	err := o.x.Scan(store.LicenseHistoryPrefix(id), nil, true, func(_, v []byte) (bool, error) {
		var e HistoryEntry
		if err := jsonUnmarshal(v, &e); err != nil {
			return false, err
		}
		out = append(out, e)
		return true, nil
	})
	return out, err
}

// seedHistory gives every license that has no history yet (one created
// before the ledger kept history) a "seeded" entry with its state at the
// time of seeding, once: the first open of a store marks it seeded.
func (lg *Ledger) seedHistory() error {
	return lg.eachLicenseOnce(store.HistorySeededKey(), (*op).seedLicense)
}

// eachLicenseOnce is a migration at open: unless doneKey is set, it runs
// fn over every license, seedBatch licenses a transaction, and sets
// doneKey with the last batch. Where a batch ended is kept outside the
// transaction only once it committed, so a transaction the store runs
// again (a PostgreSQL serialization retry) redoes its own batch.
func (lg *Ledger) eachLicenseOnce(doneKey []byte, fn func(o *op, l *License) error) error {
	var after []byte
	for {
		var next []byte
		done := false
		err := lg.db.Update(func(x *store.Txn) error {
			next, done = nil, false
			if ok, err := x.Has(doneKey); err != nil || ok {
				done = ok
				return err
			}
			o := lg.newOp(x)
			var ls []License
			err := x.Scan(store.LicenseAll(), after, true, func(k, v []byte) (bool, error) {
				if len(ls) == seedBatch {
					return false, nil
				}
				var l License
				if err := jsonUnmarshal(v, &l); err != nil {
					return false, err
				}
				next = append(next[:0], k...)
				ls = append(ls, l)
				return true, nil
			})
			if err != nil {
				return err
			}
			for i := range ls {
				if err := fn(o, &ls[i]); err != nil {
					return err
				}
			}
			if len(ls) < seedBatch {
				done = true
				return x.Put(doneKey, []byte(o.now.Format(time.RFC3339)))
			}
			return nil
		})
		if err != nil || done {
			return err
		}
		after = next
	}
}

// seedLicense writes l's seeded entry unless it has a history.
func (o *op) seedLicense(l *License) error {
	has := false
	err := o.x.Scan(store.LicenseHistoryPrefix(l.ID), nil, false, func(_, _ []byte) (bool, error) {
		has = true
		return false, nil
	})
	if err != nil || has {
		return err
	}
	return o.writeHistory(&HistoryEntry{LicenseID: l.ID, At: o.now, Kind: HistorySeeded, By: HistoryBySystem,
		UserID: "system", To: l.CustomerID, State: stateOf(l)})
}
