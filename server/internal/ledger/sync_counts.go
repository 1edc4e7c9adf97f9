package ledger

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
)

// checkCounts refuses a count past what a device can do in an hour
// (syncproto.ErrImpossibleCount) or whose refused_by breaks its rules
// (syncproto.HourlyCount.CheckRefusedBy; both checked again here, as every
// caller's report was validated, so that no path stores one), counts for a device that is neither d nor its
// gateway child, and a count lower than the one held for its (device,
// hour), field by field and refusal reason by reason — unless the report is a fork (p.fork: a restored older copy or a
// second agent with the same identity), whose lower count is no bad input:
// the held value is kept (each field and reason at its highest,
// syncproto.HourlyCount.MaxMerge), the hour noted as a
// conflict, and the rest of the report applied. It marks in p.counts the
// counts that are new or higher than held. Counts of an hour after the
// latest held for their device are new without a look-up.
func (o *op) checkCounts(p *reportPlan, d *Device, cs []syncproto.HourlyCount) error {
	var dp *devPlan
	for i := range cs {
		c := &cs[i]
		if err := c.CheckPossible(); err != nil {
			return err
		}
		if err := c.CheckRefusedBy(); err != nil {
			return err
		}
		if dp == nil || dp.id != c.DeviceID { // counts ascend by device: a new one starts here
			if c.DeviceID != d.ID {
				child, err := o.device(c.DeviceID)
				if errors.Is(err, ErrNotFound) || err == nil && child.GatewayID != d.ID {
					return fmt.Errorf("%w: counts for device %s, which is not %s nor its child", ErrNotThisDevice, c.DeviceID, d.ID)
				}
				if err != nil {
					return err
				}
			}
			if dp = p.plan(c.DeviceID); dp == nil {
				var err error
				if dp, err = p.addDevice(o, nil, c.DeviceID); err != nil {
					return err
				}
			}
			if err := o.countsBound(dp, p.bounds); err != nil {
				return err
			}
		}
		if c.Hour > dp.through {
			p.counts[i] = true
			continue
		}
		held, found, err := o.heldCount(c.DeviceID, c.Hour)
		if err != nil {
			return err
		}
		switch {
		case found && held.Equal(c):
			continue
		case found && c.Below(&held) && p.fork:
			dp.conflicts = append(dp.conflicts, c.Hour)
			m := held.MaxMerge(c)
			if m.Equal(&held) {
				continue
			}
			if p.merged == nil {
				p.merged = map[int]syncproto.HourlyCount{}
			}
			p.merged[i] = m
		case found && c.Below(&held):
			return fmt.Errorf("%w: device %s hour %s: %d/%d/%d %v reported, %d/%d/%d %v held (accepted/overage/refused by reason)",
				ErrCounterWentDown, c.DeviceID, time.Unix(c.Hour, 0).UTC().Format(time.RFC3339),
				c.Accepted, c.Overage, c.Refused, c.RefusedBy, held.Accepted, held.Overage, held.Refused, held.RefusedBy)
		}
		if err := p.raiseDay(c.DeviceID, c.Hour); err != nil {
			return err
		}
		if found {
			if p.held == nil {
				p.held = map[int]syncproto.HourlyCount{}
			}
			p.held[i] = held
		}
		p.counts[i] = true
	}
	return nil
}

// countsBound sets dp.through to the latest hour held for dp's device:
// from its sync state, else (a state from before CountsThrough) from
// bounds — read in the same transaction by the group commit (readBounds) —
// else from the last hourly count key.
func (o *op) countsBound(dp *devPlan, bounds map[string]int64) error {
	if dp.throughOK {
		return nil
	}
	dp.throughOK, dp.through = true, dp.st.CountsThrough
	if dp.through > 0 {
		return nil
	}
	if b, ok := bounds[dp.id]; ok {
		dp.through = b
		return nil
	}
	var err error
	dp.through, err = o.lastCountHour(dp.id)
	return err
}

// lastCountHour returns the latest hour held for a device (0: none). It
// walks the device's day records forward, without values — once per
// device (its state then keeps the bound), and a fresh device has none; a
// reverse seek with badger's prefetch costs far more — and reads the last.
func (o *op) lastCountHour(deviceID string) (int64, error) {
	var last []byte
	err := o.x.Scan(store.CountDayPrefix(deviceID), nil, false, func(k, _ []byte) (bool, error) {
		last = append(last[:0], k...)
		return true, nil
	})
	if err != nil || last == nil {
		return 0, err
	}
	day, err := strconv.ParseInt(store.LastPart(last), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("ledger: day of counts key %q: %w", last, err)
	}
	return o.lastCountHourOf(deviceID, day)
}

// deviceDay names one record of counts: a device's day.
type deviceDay struct {
	device string
	day    int64
}

// raiseDay notes that the report writes the hour of deviceID into a day
// that may hold counts already (one at or before the latest hour held),
// refusing the report once it names more than MaxRaisedCountDays such
// days.
func (p *reportPlan) raiseDay(deviceID string, hour int64) error {
	k := deviceDay{deviceID, dayOf(hour)}
	if _, ok := p.raisedDays[k]; ok {
		return nil
	}
	if len(p.raisedDays) == MaxRaisedCountDays {
		return fmt.Errorf("%w: more than %d days of counts already held are raised (a day is raised when an hour of it held is reported higher, or an hour is added to it): send the counts of the hours that changed",
			ErrTooManyCountDays, MaxRaisedCountDays)
	}
	if p.raisedDays == nil {
		p.raisedDays = map[deviceDay]struct{}{}
	}
	p.raisedDays[k] = struct{}{}
	return nil
}
