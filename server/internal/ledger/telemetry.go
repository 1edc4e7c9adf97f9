package ledger

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/ident"
	"github.com/tollgate-iot/tollgate/shared/limits"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
)

// What the broker observes next to what the agent reports (docs/design.md#sync,
// docs/server.md). The broker counts the telemetry messages it sees per device and hour
// and adds them here in batches (AddObservedCounts); syncs keep the agent's
// own hourly counts (hc/, reconcileCounts). An agent that publishes more
// than it reports — a tampered one — shows as observed above accepted in
// hours its reports have settled.

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

// reported returns what the device reported for one hour (zero: nothing).
func (o *op) reported(deviceID string, hour int64) (syncproto.HourlyCount, error) {
	var c syncproto.HourlyCount
	err := o.x.GetJSON(store.HourlyCountKey(deviceID, hour), &c)
	if errors.Is(err, store.ErrNotFound) {
		err = nil
	}
	return c, err
}

// settledBefore is the time before which the device's hours are settled:
// the last sync of the device (or of its gateway, which reports a child's
// counts) less SettleMargin for the agent's clock. Zero if it never synced.
func (o *op) settledBefore(d *Device) (time.Time, error) {
	id := d.ID
	if d.GatewayID != "" {
		id = d.GatewayID
	}
	st, err := o.syncState(id)
	if err != nil || st.LastSyncAt.IsZero() {
		return time.Time{}, err
	}
	return st.LastSyncAt.Add(-SettleMargin), nil
}

// settled reports whether an hour's counts are final: it ended before
// settledBefore (the agent's last report carried the hour's final counts),
// or more than SettleAfter ago (an agent that publishes but has not
// reported for that long is not going to make up the difference: its
// traffic counts as unreported).
func (o *op) settled(hour int64, before time.Time) bool {
	end := hour + 3600
	return !before.IsZero() && end <= before.Unix() || end <= o.now.Add(-SettleAfter).Unix()
}

// TelemetryWindow is a range of whole hours [From, To).
type TelemetryWindow struct{ From, To time.Time }

// window checks and aligns a window: From down and To up to the hour, at
// most MaxTelemetryWindow long.
func (w TelemetryWindow) align() (from, to int64, err error) {
	from, to = w.From.Unix(), w.To.Unix()
	from -= from % 3600
	if r := to % 3600; r != 0 {
		to += 3600 - r
	}
	if to <= from {
		return 0, 0, invalid("telemetry window: from %s is not before to %s", w.From.UTC().Format(time.RFC3339), w.To.UTC().Format(time.RFC3339))
	}
	if to-from > int64(MaxTelemetryWindow/time.Second) {
		return 0, 0, invalid("telemetry window: at most %d days", int(MaxTelemetryWindow/Day))
	}
	return from, to, nil
}

// TelemetryHour compares one hour of a device.
type TelemetryHour struct {
	Hour     int64
	Observed int64
	// Accepted and Overage are what the agent reported.
	Accepted int64
	Overage  int64
	// Settled: the device synced after the hour ended (or the hour ended
	// more than SettleAfter ago), so its report of the hour is final; a
	// difference before that may still close.
	Settled bool
}

// Difference is observed less reported accepted.
func (h *TelemetryHour) Difference() int64 { return h.Observed - h.Accepted }

// excess is the part of a settled hour's difference that the agent did not
// report: messages seen at the broker beyond what it accepted.
func (h *TelemetryHour) excess() int64 {
	if !h.Settled || h.Observed <= h.Accepted {
		return 0
	}
	return h.Observed - h.Accepted
}

// TelemetryView compares what the broker observed with what a device
// reported, hour by hour.
type TelemetryView struct {
	DeviceID   string
	CustomerID string
	From, To   int64
	// SettledBefore: hours that ended before it are settled (zero: the
	// device never synced).
	SettledBefore time.Time
	Hours         []TelemetryHour // hours with anything observed or reported, oldest first
	Observed      int64
	Accepted      int64
	// Excess sums observed above accepted over settled hours.
	Excess int64
}

// DeviceTelemetry returns the hours of a window in which the broker
// observed telemetry of the device or the device reported counts.
func (lg *Ledger) DeviceTelemetry(ctx context.Context, a Actor, deviceID string, w TelemetryWindow) (*TelemetryView, error) {
	from, to, err := w.align()
	if err != nil {
		return nil, err
	}
	out := &TelemetryView{From: from, To: to, Hours: []TelemetryHour{}}
	hours := map[int64]*TelemetryHour{}
	err = lg.view(func(o *op) error {
		d, err := o.visibleDevice(a, deviceID)
		if err != nil {
			return err
		}
		out.DeviceID, out.CustomerID = d.ID, d.CustomerID
		if out.SettledBefore, err = o.settledBefore(d); err != nil {
			return err
		}
		at := func(h int64) *TelemetryHour {
			if hours[h] == nil {
				hours[h] = &TelemetryHour{Hour: h, Settled: o.settled(h, out.SettledBefore)}
			}
			return hours[h]
		}
		err = o.x.Scan(store.ObservedCountPrefix(d.ID), store.ObservedCountKey(d.ID, from-1), true, func(k, v []byte) (bool, error) {
			h, err := strconv.ParseInt(store.LastPart(k), 10, 64)
			if err != nil || h >= to {
				return false, err
			}
			n, err := parseObserved(v)
			at(h).Observed = n
			return err == nil, err
		})
		if err != nil {
			return err
		}
		return o.x.Scan(store.HourlyCountPrefix(d.ID), store.HourlyCountKey(d.ID, from-1), true, func(_, v []byte) (bool, error) {
			var c syncproto.HourlyCount
			if err := jsonUnmarshal(v, &c); err != nil {
				return false, err
			}
			if c.Hour >= to {
				return false, nil
			}
			h := at(c.Hour)
			h.Accepted, h.Overage = c.Accepted, c.Overage
			return true, nil
		})
	})
	if err != nil {
		return nil, err
	}
	for _, h := range hours {
		out.Hours = append(out.Hours, *h)
		out.Observed = addCount(out.Observed, h.Observed)
		out.Accepted = addCount(out.Accepted, h.Accepted)
		out.Excess = addCount(out.Excess, h.excess())
	}
	slices.SortFunc(out.Hours, func(x, y TelemetryHour) int { return int(x.Hour/3600 - y.Hour/3600) })
	return out, nil
}

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
		d = &Discrepancy{DeviceID: rec.ID, CustomerID: rec.CustomerID, SettledBefore: before}
		s.devs[dev] = d
	}
	if !s.o.settled(hour, d.SettledBefore) {
		return nil
	}
	obs, err := s.o.observed(dev, hour)
	if err != nil {
		return err
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
