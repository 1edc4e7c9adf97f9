package ledger

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
)

// Counts as the server received them, and the device's clock next to the
// server's. An agent keys its hourly counts by hours of its own clock,
// which may be off: a simulation clock (the demo's agents pass 3 hours per
// second) or a device with a wrong date. Those hours are then not the
// server's hours, and windows such as "the last 24 hours" or the broker's
// observed hours (server hours) cannot be laid over them. So each sync
// also adds what it raised the counts by to the hour of the server's clock
// in which it was received (rcv/DEVICE/HOUR), and keeps the device's clock
// offset (SyncState.ClockOffset); views of a device whose clock is off by
// more than ClockTolerance count by receipt and say so.

// ClockTolerance is how far a device's clock may be from the server's for
// its hours to be taken as server hours. A sync's sent_at is made a moment
// before the server receives it, so an agent on a true clock is seconds
// off; within the tolerance the hours are compared one to one.
const ClockTolerance = 30 * time.Minute

// DeviceClock is a device's clock as its last online sync showed it.
type DeviceClock struct {
	// Known: the device synced online since the server checks clocks.
	Known bool
	// Offset is the device's clock less the server's at that sync.
	Offset time.Duration
	// CheckedAt is the server's time of that sync.
	CheckedAt time.Time
}

// Off reports whether the device's hours are not the server's: its clock
// was more than ClockTolerance away at its last sync.
func (c DeviceClock) Off() bool {
	return c.Known && (c.Offset > ClockTolerance || c.Offset < -ClockTolerance)
}

// DeviceNow is the device's clock at its last sync.
func (c DeviceClock) DeviceNow() time.Time { return c.CheckedAt.Add(c.Offset) }

func clockOf(st *SyncState) DeviceClock {
	if st.ClockCheckedAt == 0 {
		return DeviceClock{}
	}
	return DeviceClock{Known: true, Offset: time.Duration(st.ClockOffset) * time.Second, CheckedAt: time.Unix(st.ClockCheckedAt, 0).UTC()}
}

// deviceClock returns the clock whose hours key the device's counts: its
// own, or its gateway's for a gateway child (the gateway reports them).
func (o *op) deviceClock(d *Device) (DeviceClock, error) {
	id := d.ID
	if d.GatewayID != "" {
		id = d.GatewayID
	}
	st, err := o.syncState(id)
	return clockOf(&st), err
}

// receivedBatch sums, per device, what a report's written counts add to
// the counts held, reason by reason too.
type receivedBatch map[string]*CountTotals

// add notes count i of a report (merged: the count written instead, held:
// the count it replaces).
func (b receivedBatch) add(c *syncproto.HourlyCount, merged, held map[int]syncproto.HourlyCount, i int) {
	w := *c
	if m, ok := merged[i]; ok {
		w = m
	}
	h := held[i]
	t := b[c.DeviceID]
	if t == nil {
		t = &CountTotals{}
		b[c.DeviceID] = t
	}
	t.add(&syncproto.HourlyCount{Accepted: max(w.Accepted-h.Accepted, 0), Overage: max(w.Overage-h.Overage, 0), Refused: max(w.Refused-h.Refused, 0)})
	for r, n := range w.RefusedBy {
		// Each reason only grows (checkCounts): what it rose by.
		t.addReason(r, n-h.RefusedBy[r])
	}
}

// addReceived adds a report's received counts to the current hour of the
// server's clock.
func (o *op) addReceived(b receivedBatch) error {
	now := o.now.Unix()
	hour := now - now%3600
	for dev, t := range b {
		if t.zero() {
			continue
		}
		k := store.ReceivedCountKey(dev, hour)
		var held CountTotals
		if err := o.x.GetJSON(k, &held); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		held.Accepted = addCount(held.Accepted, t.Accepted)
		held.Overage = addCount(held.Overage, t.Overage)
		held.Refused = addCount(held.Refused, t.Refused)
		held.addReasons(t.RefusedBy)
		if err := o.x.PutJSON(k, &held); err != nil {
			return err
		}
	}
	return nil
}

// received sums what the device's syncs added in the server hours that
// overlap [from, to) (Unix seconds).
func (o *op) received(deviceID string, from, to int64) (CountTotals, error) {
	var t CountTotals
	err := o.x.Scan(store.ReceivedCountPrefix(deviceID), store.ReceivedCountKey(deviceID, from-from%3600-1), true, func(k, v []byte) (bool, error) {
		h, err := strconv.ParseInt(store.LastPart(k), 10, 64)
		if err != nil {
			return false, fmt.Errorf("ledger: received count key %q: %w", k, err)
		}
		if h >= to {
			return false, nil
		}
		var c CountTotals
		if err := jsonUnmarshal(v, &c); err != nil {
			return false, err
		}
		t.Accepted = addCount(t.Accepted, c.Accepted)
		t.Overage = addCount(t.Overage, c.Overage)
		t.Refused = addCount(t.Refused, c.Refused)
		t.addReasons(c.RefusedBy)
		return true, nil
	})
	return t, err
}
