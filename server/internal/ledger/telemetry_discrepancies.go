package ledger

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/store"
)

// Discrepancy is a device whose broker-observed telemetry exceeds what it
// reported in settled hours of a window.
type Discrepancy struct {
	DeviceID   string
	CustomerID string
	// Observed and Accepted sum the settled hours in which the broker
	// observed the device.
	Observed int64
	Accepted int64
	// Excess sums observed above accepted over those hours; Hours counts
	// the hours with an excess.
	Excess        int64
	Hours         int
	SettledBefore time.Time
	// ByTotals: the device's clock is off (DeviceClock.Off), so its
	// reported hours are not server hours: Accepted is what its syncs
	// received in the window, Excess the settled observed above it, and
	// Hours 0 (see TelemetryView).
	ByTotals bool
}

// DiscrepancyQuery selects the devices TelemetryDiscrepancies lists.
type DiscrepancyQuery struct {
	// CustomerID limits the list to the customer and its descendants
	// (empty: the actor's own customer).
	CustomerID string
	Window     TelemetryWindow
	// MinExcess is the smallest excess listed (at least 1).
	MinExcess int64
	// Limit caps the devices returned (1..MaxPageSize, 0: DefaultPageSize).
	Limit int
}

// TelemetryDiscrepancies lists the devices, in the customer's subtree,
// whose broker-observed messages exceed their reported accepted samples by
// at least MinExcess over the settled hours of the window, largest excess
// first. It walks the hour index of observed counts, so idle devices cost
// nothing; it stops after MaxDiscrepancyScan observed (device, hour)
// entries and then reports complete = false.
func (lg *Ledger) TelemetryDiscrepancies(ctx context.Context, a Actor, q DiscrepancyQuery) (list []Discrepancy, complete bool, err error) {
	from, to, err := q.Window.align()
	if err != nil {
		return nil, false, err
	}
	if q.MinExcess < 1 {
		q.MinExcess = 1
	}
	if q.Limit <= 0 {
		q.Limit = DefaultPageSize
	}
	if q.Limit > MaxPageSize {
		return nil, false, invalid("limit %d: at most %d", q.Limit, MaxPageSize)
	}
	if q.CustomerID == "" {
		q.CustomerID = a.CustomerID
	}
	complete = true
	err = lg.view(func(o *op) error {
		if _, err := o.visibleCustomer(a, q.CustomerID); err != nil {
			return err
		}
		s := &discrepancyScan{o: o, scope: q.CustomerID, devs: map[string]*Discrepancy{}, out: map[string]bool{}}
		scanned := 0
		err := o.x.Scan(store.ObservedByHourPrefix(), store.ObservedByHourKey(from, ""), false, func(k, _ []byte) (bool, error) {
			h, dev, ok := store.ObservedHourDevice(k)
			if !ok {
				return false, fmt.Errorf("ledger: observed index key %q", k)
			}
			if h >= to {
				return false, nil
			}
			if scanned++; scanned > MaxDiscrepancyScan {
				complete = false
				return false, nil
			}
			return true, s.add(dev, h)
		})
		if err != nil {
			return err
		}
		for _, d := range s.devs {
			if d.ByTotals {
				rcv, err := o.received(d.DeviceID, from, to)
				if err != nil {
					return err
				}
				d.Accepted, d.Excess = rcv.Accepted, max(d.Observed-rcv.Accepted, 0)
			}
			if d.Excess >= q.MinExcess {
				list = append(list, *d)
			}
		}
		return nil
	})
	slices.SortFunc(list, func(x, y Discrepancy) int {
		if c := cmp.Compare(y.Excess, x.Excess); c != 0 {
			return c
		}
		return cmp.Compare(x.DeviceID, y.DeviceID)
	})
	if len(list) > q.Limit {
		list = list[:q.Limit]
	}
	return list, complete, err
}

// discrepancyScan accumulates per device; out remembers devices outside
// the scope so that they are looked up once.
type discrepancyScan struct {
	o     *op
	scope string
	devs  map[string]*Discrepancy
	out   map[string]bool
}

func (s *discrepancyScan) add(dev string, hour int64) error {
	if s.out[dev] {
		return nil
	}
	d := s.devs[dev]
	if d == nil {
		rec, err := s.o.device(dev)
		if errors.Is(err, ErrNotFound) {
			s.out[dev] = true
			return nil
		}
		if err != nil {
			return err
		}
		c, err := s.o.customer(rec.CustomerID)
		if err != nil {
			return err
		}
		if c.ID != s.scope && !slices.Contains(c.Path, s.scope) {
			s.out[dev] = true
			return nil
		}
		before, err := s.o.settledBefore(rec)
		if err != nil {
			return err
		}
		clk, err := s.o.deviceClock(rec)
		if err != nil {
			return err
		}
		d = &Discrepancy{DeviceID: rec.ID, CustomerID: rec.CustomerID, SettledBefore: before, ByTotals: clk.Off()}
		s.devs[dev] = d
	}
	if !s.o.settled(hour, d.SettledBefore) {
		return nil
	}
	obs, err := s.o.observed(dev, hour)
	if err != nil {
		return err
	}
	if d.ByTotals { // compared as totals once the scan is done
		d.Observed = addCount(d.Observed, obs)
		return nil
	}
	rep, err := s.o.reported(dev, hour)
	if err != nil {
		return err
	}
	th := TelemetryHour{Hour: hour, Observed: obs, Accepted: rep.Accepted, Settled: true}
	d.Observed = addCount(d.Observed, obs)
	d.Accepted = addCount(d.Accepted, rep.Accepted)
	if x := th.excess(); x > 0 {
		d.Excess = addCount(d.Excess, x)
		d.Hours++
	}
	return nil
}
