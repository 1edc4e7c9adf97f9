package ledger

import (
	"context"
	"slices"
	"strconv"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
)

// The telemetry view: what the broker observed (telemetry_observed.go)
// next to what the device reported (its hourly counts, sync_counts.go, or
// what its syncs received, sync_received.go). An agent that publishes more
// than it reports — a tampered one — shows as observed above accepted in
// hours its reports have settled.

// reported returns what the device reported for one hour (zero: nothing).
func (o *op) reported(deviceID string, hour int64) (syncproto.HourlyCount, error) {
	c, _, err := o.heldCount(deviceID, hour)
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
	// Clock is the device's clock (its gateway's for a gateway child) at
	// its last sync. When it is off (Clock.Off), its reported hours are not
	// server hours: ByTotals is set, Hours is empty, Observed sums the
	// window's server hours and Accepted what the device's syncs received
	// in them (sync_received.go), and Excess is observed in the settled
	// hours above all received in the window up to the last sync — never
	// more than the device truly left unreported.
	Clock    DeviceClock
	ByTotals bool
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
		if out.Clock, err = o.deviceClock(d); err != nil {
			return err
		}
		if out.Clock.Off() {
			return o.telemetryTotals(d, from, to, out)
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
		return o.scanCounts(d.ID, from, true, func(c *syncproto.HourlyCount) (bool, error) {
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
	if out.ByTotals {
		return out, nil
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

// telemetryTotals compares a device whose clock is off as totals on the
// server's clock: observed in the window next to what its syncs received
// in the window.
func (o *op) telemetryTotals(d *Device, from, to int64, out *TelemetryView) error {
	out.ByTotals = true
	var settledObs int64
	err := o.x.Scan(store.ObservedCountPrefix(d.ID), store.ObservedCountKey(d.ID, from-1), true, func(k, v []byte) (bool, error) {
		h, err := strconv.ParseInt(store.LastPart(k), 10, 64)
		if err != nil || h >= to {
			return false, err
		}
		n, err := parseObserved(v)
		out.Observed = addCount(out.Observed, n)
		if o.settled(h, out.SettledBefore) {
			settledObs = addCount(settledObs, n)
		}
		return err == nil, err
	})
	if err != nil {
		return err
	}
	rcv, err := o.received(d.ID, from, to)
	if err != nil {
		return err
	}
	out.Accepted = rcv.Accepted
	out.Excess = max(settledObs-out.Accepted, 0)
	return nil
}
