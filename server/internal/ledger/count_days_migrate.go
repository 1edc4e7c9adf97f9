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
	for {
		done, err := lg.migrateCountDaysBatch()
		if err != nil || done {
			return err
		}
	}
}

// migrateCountDaysBatch converts up to countDaysBatch hourly records in
// one transaction, and marks the ledger converted when none is left.
func (lg *Ledger) migrateCountDaysBatch() (done bool, err error) {
	err = lg.db.Update(func(x *store.Txn) error {
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
		done = len(keys) < countDaysBatch
		if done {
			return x.Put(store.CountDaysKey(), []byte(o.now.Format(time.RFC3339)))
		}
		return nil
	})
	return done, err
}
