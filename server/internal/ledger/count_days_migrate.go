package ledger

import (
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
)

// Converting a ledger that kept one record per hourly count
// (store.HourlyCountKey) to one record per device and day
// (store.CountDayKey, count_days.go). It runs when the ledger opens, in
// transactions of at most countDaysBatch hours: each moves its hours into
// their days' records (merged with what an earlier, interrupted run
// already moved) and deletes them, so a crash in between loses nothing
// and converts nothing twice; the last one marks the ledger converted
// (store.CountDaysKey), and later opens read only that mark.

// countDaysBatch is how many hourly records one conversion transaction
// moves.
const countDaysBatch = 2048

// migrateCountDays converts every hourly count record, once.
func (lg *Ledger) migrateCountDays() error {
	total := 0
	for batches := 0; ; batches++ {
		n, done, err := lg.migrateCountDaysBatch()
		if err != nil {
			return err
		}
		total += n
		switch {
		case done && total > 0:
			lg.log.Info("hourly counts converted to one record per device and day", "hours", total)
			return nil
		case done:
			return nil
		case batches == 0:
			lg.log.Info("converting hourly counts to one record per device and day (once; the server starts when it is done)")
		case batches%500 == 0:
			lg.log.Info("converting hourly counts", "hours_done", total)
		}
	}
}

// migrateCountDaysBatch converts up to countDaysBatch hourly records in
// one transaction, and marks the ledger converted when none is left; it
// returns how many it converted.
func (lg *Ledger) migrateCountDaysBatch() (n int, done bool, err error) {
	var bad []badCount
	err = lg.db.Update(func(x *store.Txn) error {
		n = 0
		if ok, err := x.Has(store.CountDaysKey()); err != nil || ok {
			done = ok
			return err
		}
		o := lg.newOp(x)
		var keys [][]byte
		var counts []syncproto.HourlyCount
		bad = bad[:0]
		err := x.Scan(store.HourlyCountAll(), nil, true, func(k, v []byte) (bool, error) {
			if len(keys) == countDaysBatch {
				return false, nil
			}
			keys = append(keys, append([]byte{}, k...))
			var c syncproto.HourlyCount
			if err := jsonUnmarshal(v, &c); err != nil || c.DeviceID == "" || c.Hour <= 0 || c.Hour%3600 != 0 {
				// Unreadable before as well (every reader refused it):
				// dropped, and logged, rather than stop the server.
				bad = append(bad, badCount{key: string(k), value: string(v[:min(len(v), maxLoggedBadCount)])})
				return true, nil
			}
			counts = append(counts, c)
			return true, nil
		})
		if err != nil {
			return err
		}
		if err := o.putHeldCounts(counts); err != nil {
			return err
		}
		for _, k := range keys {
			if err := x.Delete(k); err != nil {
				return err
			}
		}
		n, done = len(keys), len(keys) < countDaysBatch
		if done {
			return x.Put(store.CountDaysKey(), []byte(o.now.Format(time.RFC3339)))
		}
		return nil
	})
	if err == nil {
		for _, b := range bad {
			lg.log.Error("converting hourly counts: a record no reader could read is dropped", "key", b.key, "value", b.value)
		}
	}
	return n, done, err
}

// maxLoggedBadCount bounds how much of an unreadable record is logged.
const maxLoggedBadCount = 512

// badCount is an hourly record the conversion could not read.
type badCount struct{ key, value string }
