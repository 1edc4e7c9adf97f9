package ledger

import (
	"encoding/json"
	"errors"

	"github.com/tollgate-iot/tollgate/server/internal/store"
)

// statsRebuildBatch bounds the keys one transaction of the counters'
// rebuild reads or deletes.
const statsRebuildBatch = 1000

// migrateStats builds the statistics counters of a ledger created before
// they existed (or left half-built by a crash during a rebuild): unless
// StatsVersionKey holds statsVersion, every statistics key is dropped and
// every license, blacklisted device and device's offline deadline is counted again, in transactions
// of at most statsRebuildBatch records; the version is written last.
func (lg *Ledger) migrateStats() error {
	var done bool
	err := lg.db.View(func(x *store.Txn) error {
		b, err := x.Get(store.StatsVersionKey())
		done = err == nil && string(b) == statsVersion
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return err
	})
	if err != nil || done {
		return err
	}
	for _, p := range store.StatsAllPrefixes() {
		if err := lg.statsClear(p); err != nil {
			return err
		}
	}
	if err := lg.statsRecount(store.LicenseKey(""), true, func(o *op, v []byte) error {
		var l License
		if err := json.Unmarshal(v, &l); err != nil {
			return err
		}
		return o.putStats(nil, &l)
	}); err != nil {
		return err
	}
	if err := lg.statsRecount(store.BlacklistPrefix(), false, func(o *op, k []byte) error {
		d, err := o.device(store.LastPart(k))
		if err != nil {
			return err
		}
		return o.putDeviceStats(&Device{}, d)
	}); err != nil {
		return err
	}
	if err := lg.statsRecount(store.DeviceKey(""), false, func(o *op, k []byte) error {
		return o.putOffline(store.LastPart(k))
	}); err != nil {
		return err
	}
	return lg.db.Update(func(x *store.Txn) error { return x.Put(store.StatsVersionKey(), []byte(statsVersion)) })
}

// statsClear deletes every key under p, a batch per transaction.
func (lg *Ledger) statsClear(p []byte) error {
	for {
		var n int
		err := lg.db.Update(func(x *store.Txn) error {
			var keys [][]byte
			err := x.Scan(p, nil, false, func(k, _ []byte) (bool, error) {
				keys = append(keys, append([]byte(nil), k...))
				return len(keys) < statsRebuildBatch, nil
			})
			if err != nil {
				return err
			}
			n = len(keys)
			for _, k := range keys {
				if err := x.Delete(k); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil || n == 0 {
			return err
		}
	}
}

// statsRecount calls fn for every record under p (its value for licenses,
// its key for the blacklist), a batch per transaction.
func (lg *Ledger) statsRecount(p []byte, withValues bool, fn func(o *op, kv []byte) error) error {
	var after []byte
	for {
		var n int
		err := lg.db.Update(func(x *store.Txn) error {
			var recs [][]byte
			var last []byte
			err := x.Scan(p, after, withValues, func(k, v []byte) (bool, error) {
				last = append([]byte(nil), k...)
				if withValues {
					recs = append(recs, append([]byte(nil), v...))
				} else {
					recs = append(recs, last)
				}
				return len(recs) < statsRebuildBatch, nil
			})
			if err != nil {
				return err
			}
			o := lg.newOp(x)
			for _, r := range recs {
				if err := fn(o, r); err != nil {
					return err
				}
			}
			n, after = len(recs), last
			return nil
		})
		if err != nil || n == 0 {
			return err
		}
	}
}
