package ledger

import (
	"testing"

	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
)

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
