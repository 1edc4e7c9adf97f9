package ledger

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/ident"
	"github.com/tollgate-iot/tollgate/shared/limits"
)

// Observed telemetry: what the broker saw. The broker counts the telemetry
// messages it sees per device and hour of the server's clock and adds them
// here in batches (AddObservedCounts), under oc/DEVICE/HOUR with an hour
// index (och/HOUR/DEVICE). Reconciliation (sync*.go) never reads them; the
// views that lay them next to what devices reported are telemetry_view.go
// and telemetry_discrepancies.go.

// ObservedCount is a number of telemetry messages the broker saw for one
// device in one hour, to be added to what the ledger holds.
type ObservedCount struct {
	// CustomerID is the customer the topic named: the count is kept only
	// if it owns the device (an external broker lets anyone publish
	// anywhere).
	CustomerID string
	DeviceID   string
	Hour       int64 // Unix seconds, a multiple of 3600
	Count      int64
}

// AddObservedCounts adds a batch of observed counts, at most
// MaxObservedPerTxn per transaction. Counts for unknown devices, for a
// device under another customer's topic, with a bad id, hour or count are
// skipped and counted in skipped.
func (lg *Ledger) AddObservedCounts(ctx context.Context, counts []ObservedCount) (kept, skipped int, err error) {
	for len(counts) > 0 {
		n := min(len(counts), MaxObservedPerTxn)
		var k, s int
		err := lg.update(func(o *op) error {
			k, s = 0, 0
			for i := range counts[:n] {
				ok, err := o.addObserved(&counts[i])
				if err != nil {
					return err
				}
				if ok {
					k++
				} else {
					s++
				}
			}
			return nil
		})
		if err != nil {
			return kept, skipped, err
		}
		kept, skipped, counts = kept+k, skipped+s, counts[n:]
	}
	return kept, skipped, nil
}

func (o *op) addObserved(c *ObservedCount) (bool, error) {
	if c.Count <= 0 || c.Count > limits.MaxCountPerHour || c.Hour <= 0 || c.Hour%3600 != 0 || ident.CheckID("device_id", c.DeviceID) != nil ||
		ident.CheckID("customer_id", c.CustomerID) != nil {
		return false, nil
	}
	d, err := o.device(c.DeviceID)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if d.CustomerID != c.CustomerID {
		return false, nil
	}
	held, err := o.observed(d.ID, c.Hour)
	if err != nil {
		return false, err
	}
	if held == 0 {
		if err := o.x.Put(store.ObservedByHourKey(c.Hour, d.ID), nil); err != nil {
			return false, err
		}
	}
	// Saturating at what a device can do in an hour: the sum of batches
	// never wraps, and no real device comes near it.
	n := min(addCount(held, c.Count), limits.MaxCountPerHour)
	return true, o.x.Put(store.ObservedCountKey(d.ID, c.Hour), strconv.AppendInt(nil, n, 10))
}

// observed returns the observed count of a device in one hour (0: none).
func (o *op) observed(deviceID string, hour int64) (int64, error) {
	b, err := o.x.Get(store.ObservedCountKey(deviceID, hour))
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return parseObserved(b)
}

func parseObserved(b []byte) (int64, error) {
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("ledger: observed count %q: %v", b, err)
	}
	return n, nil
}
