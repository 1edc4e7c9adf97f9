package ledger

import (
	"encoding/json"
	"testing"

	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
)

// putHeldCounts writes counts into their devices' day records in o, as a
// sync that was applied earlier left them (over what is held for the same
// hours).
func putHeldCounts(o *op, counts ...syncproto.HourlyCount) error {
	var w countWrites
	plans := map[string]*devPlan{}
	for i := range counts {
		c := &counts[i]
		if plans[c.DeviceID] == nil {
			plans[c.DeviceID] = &devPlan{id: c.DeviceID}
		}
		line, err := json.Marshal(c)
		if err != nil {
			return err
		}
		w.add(plans[c.DeviceID], c.Hour, line)
	}
	return w.write(o)
}

// heldCountHours returns the oldest hour and how many hours of counts dev
// holds.
func heldCountHours(t *testing.T, e *env, dev string) (oldest int64, n int) {
	t.Helper()
	err := e.lg.view(func(o *op) error {
		return o.scanCounts(dev, 0, false, func(c *syncproto.HourlyCount) (bool, error) {
			if n == 0 {
				oldest = c.Hour
			}
			n++
			return true, nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return oldest, n
}

// countDayRecords returns how many day records dev holds.
func countDayRecords(t *testing.T, e *env, dev string) int {
	t.Helper()
	return countKeys(t, e, store.CountDayPrefix(dev))
}
