package ledger

import (
	"encoding/json"
	"fmt"
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
	err = lg.db.Update(func(x *store.Txn) error {
		n = 0
		if ok, err := x.Has(store.CountDaysKey()); err != nil || ok {
			done = ok
			return err
		}
		o := lg.newOp(x)
		var keys [][]byte
		var counts []syncproto.HourlyCount
		err := x.Scan(store.HourlyCountAll(), nil, true, func(k, v []byte) (bool, error) {
			if len(keys) == countDaysBatch {
				return false, nil
			}
			var c syncproto.HourlyCount
			if err := jsonUnmarshal(v, &c); err != nil {
				return false, fmt.Errorf("ledger: converting hourly count %q: %w", k, err)
			}
			if c.DeviceID == "" || c.Hour%3600 != 0 {
				return false, fmt.Errorf("ledger: converting hourly count %q: device %q, hour %d", k, c.DeviceID, c.Hour)
			}
			keys, counts = append(keys, append([]byte{}, k...)), append(counts, c)
			return true, nil
		})
		if err != nil {
			return err
		}
		var days countWrites
		plans := map[string]*devPlan{}
		for i := range counts {
			c := &counts[i]
			dp := plans[c.DeviceID]
			if dp == nil {
				dp = &devPlan{id: c.DeviceID}
				plans[c.DeviceID] = dp
			}
			line, err := json.Marshal(c)
			if err != nil {
				return fmt.Errorf("ledger: converting hourly count: %w", err)
			}
			days.add(dp, c.Hour, line)
		}
		if err := days.write(o); err != nil {
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
	return n, done, err
}
