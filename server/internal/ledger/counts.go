package ledger

import (
	"context"
	"fmt"

	"github.com/tollgate-iot/tollgate/server/internal/store"
)

// LicenseCounts returns, for every customer that owns licenses, how many of
// its licenses are in each status now. Status depends on the time (a term
// ends, a day license runs out of days), so the counts cannot be kept up to
// date at change time; this reads the license-by-owner index, whose entries
// carry the status summary (summary.go), and reads a full record only for
// an entry without one. It is meant for metrics, cached by the caller.
func (lg *Ledger) LicenseCounts(ctx context.Context) (map[string]map[Status]int64, error) {
	out := map[string]map[Status]int64{}
	err := lg.view(func(o *op) error {
		return o.x.Scan(store.LicenseByCustomerAll(), nil, true, func(k, v []byte) (bool, error) {
			if err := ctx.Err(); err != nil {
				return false, err
			}
			customer, ok := store.LicenseByCustomerOwner(k)
			if !ok {
				return true, nil
			}
			l, ok := skeleton(v)
			if !ok {
				if err := o.x.GetJSON(store.LicenseKey(store.LastPart(k)), &l); err != nil {
					return false, fmt.Errorf("ledger: count licenses of %s: %w", customer, err)
				}
			}
			byStatus := out[customer]
			if byStatus == nil {
				byStatus = map[Status]int64{}
				out[customer] = byStatus
			}
			byStatus[l.Status(o.now)]++
			return true, nil
		})
	})
	return out, err
}
