package ledger

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
)

// Hourly counts are kept one record per device and UTC day
// (store.CountDayKey): the day's hours, one line each, ascending — each
// line the JSON of one syncproto.HourlyCount, as encoding/json writes it.
// A device reports a day of hours at a time, so a sync writes one record
// where it wrote 24 (the most of a sync's writes, and of its cost on
// PostgreSQL), and a month's report reads 31 records per device instead
// of 744. A record is read back whole and rewritten whole; an hour is
// looked up in it by its hour, and lines are split at '\n', which
// encoding/json never writes inside a value.

// daySeconds is the length of a count day.
const daySeconds = 24 * 3600

// dayOf is the first second of the UTC day that holds t (Unix seconds).
func dayOf(t int64) int64 {
	d := t - t%daySeconds
	if t%daySeconds < 0 {
		d -= daySeconds
	}
	return d
}

// countDay is one device's day of counts: hours[i] is the hour of
// lines[i], ascending.
type countDay struct {
	hours []int64
	lines [][]byte
}

// errCountDay is a day record the ledger cannot read.
var errCountDay = errors.New("ledger: unreadable day of hourly counts")

// parseCountDay splits a stored record of day, checking that every line
// is an hourly count of that day, in ascending hours.
func parseCountDay(v []byte, day int64) (*countDay, error) {
	d := &countDay{}
	var c syncproto.HourlyCount
	for line := range bytes.SplitSeq(v, []byte{'\n'}) {
		if err := decodeCount(line, &c, true); err != nil {
			return nil, fmt.Errorf("%w: day %d: %w", errCountDay, day, err)
		}
		if dayOf(c.Hour) != day || c.Hour%3600 != 0 || len(d.hours) > 0 && c.Hour <= d.hours[len(d.hours)-1] {
			return nil, fmt.Errorf("%w: day %d: hour %d out of place", errCountDay, day, c.Hour)
		}
		d.hours, d.lines = append(d.hours, c.Hour), append(d.lines, line)
	}
	return d, nil
}

// decodeCount decodes one line into c. fast reuses c.RefusedBy and may
// leave DeviceID empty (parseHourlyCount), for a caller that keeps nothing
// of c past the line; otherwise c is decoded afresh.
func decodeCount(line []byte, c *syncproto.HourlyCount, fast bool) error {
	if fast {
		by := c.RefusedBy
		clear(by)
		*c = syncproto.HourlyCount{RefusedBy: by}
		if parseHourlyCount(line, c) {
			return nil
		}
		clear(c.RefusedBy)
		return jsonUnmarshal(line, c)
	}
	*c = syncproto.HourlyCount{}
	return jsonUnmarshal(line, c)
}

// set puts line as the count of hour, in hour order.
func (d *countDay) set(hour int64, line []byte) {
	i, found := slices.BinarySearch(d.hours, hour)
	if found {
		d.lines[i] = line
		return
	}
	d.hours = slices.Insert(d.hours, i, hour)
	d.lines = slices.Insert(d.lines, i, line)
}

// encode is the record as stored.
func (d *countDay) encode() []byte {
	return bytes.Join(d.lines, []byte{'\n'})
}

// countDayOf returns deviceID's record of day, read once per operation
// (empty when there is none). mayExist false says the caller knows there
// is none (a day after the latest hour held): nothing is read.
func (o *op) countDayOf(deviceID string, day int64, mayExist bool) (*countDay, error) {
	k := string(store.CountDayKey(deviceID, day))
	if d, ok := o.days[k]; ok {
		return d, nil
	}
	d := &countDay{}
	if mayExist {
		v, err := o.x.Get([]byte(k))
		switch {
		case err == nil:
			if d, err = parseCountDay(v, day); err != nil {
				return nil, err
			}
		case !errors.Is(err, store.ErrNotFound):
			return nil, err
		}
	}
	if o.days == nil {
		o.days = map[string]*countDay{}
	}
	o.days[k] = d
	return d, nil
}

// heldCount returns the count held for deviceID's hour; found false when
// there is none.
func (o *op) heldCount(deviceID string, hour int64) (c syncproto.HourlyCount, found bool, err error) {
	d, err := o.countDayOf(deviceID, dayOf(hour), true)
	if err != nil {
		return c, false, err
	}
	i, found := slices.BinarySearch(d.hours, hour)
	if !found {
		return c, false, nil
	}
	return c, true, decodeCount(d.lines[i], &c, false)
}

// putCounts writes lines (by hour, all of day) into deviceID's record of
// day, over what it held for the same hours.
func (o *op) putCounts(deviceID string, day int64, mayExist bool, hours []int64, lines [][]byte) error {
	d, err := o.countDayOf(deviceID, day, mayExist)
	if err != nil {
		return err
	}
	for i, h := range hours {
		d.set(h, lines[i])
	}
	return o.x.Put(store.CountDayKey(deviceID, day), d.encode())
}

// lastCountHourOf returns the latest hour in deviceID's record of day
// (0: an empty record).
func (o *op) lastCountHourOf(deviceID string, day int64) (int64, error) {
	d, err := o.countDayOf(deviceID, day, true)
	if err != nil || len(d.hours) == 0 {
		return 0, err
	}
	return d.hours[len(d.hours)-1], nil
}

// scanCounts calls fn with deviceID's hourly counts of hour from on, in
// hour order, until fn returns false. fast is decodeCount's: fn keeps
// nothing of c past the call; otherwise c is its own.
func (o *op) scanCounts(deviceID string, from int64, fast bool, fn func(c *syncproto.HourlyCount) (bool, error)) error {
	var c syncproto.HourlyCount
	return o.x.ScanInPlace(store.CountDayPrefix(deviceID), store.CountDayKey(deviceID, dayOf(from)-1), func(_, v []byte) (bool, error) {
		for line := range bytes.SplitSeq(v, []byte{'\n'}) {
			if err := decodeCount(line, &c, fast); err != nil {
				return false, fmt.Errorf("%w: device %s: %w", errCountDay, deviceID, err)
			}
			if c.Hour < from {
				continue
			}
			if more, err := fn(&c); !more || err != nil {
				return false, err
			}
		}
		return true, nil
	})
}

// putHeldCounts writes whole hourly counts into their devices' day
// records, over what is held for the same hours, reading every day it
// writes into: for counts that are not a sync's (the conversion of a
// ledger from before).
func (o *op) putHeldCounts(counts []syncproto.HourlyCount) error {
	var w countWrites
	plans := map[string]*devPlan{}
	for i := range counts {
		c := &counts[i]
		dp := plans[c.DeviceID]
		if dp == nil {
			dp = &devPlan{id: c.DeviceID} // no bound: every day is read
			plans[c.DeviceID] = dp
		}
		line, err := json.Marshal(c)
		if err != nil {
			return fmt.Errorf("ledger: encode hourly count: %w", err)
		}
		w.add(dp, c.Hour, line)
	}
	return w.write(o)
}

// countWrites are a report's new counts, by device and day, to be written
// as one record each.
type countWrites struct {
	groups []countGroup
}

type countGroup struct {
	dp    *devPlan
	day   int64
	hours []int64
	lines [][]byte
}

// add adds the line of dp's device's hour.
func (w *countWrites) add(dp *devPlan, hour int64, line []byte) {
	day := dayOf(hour)
	var g *countGroup
	for i := len(w.groups) - 1; i >= 0 && g == nil; i-- {
		if w.groups[i].dp == dp && w.groups[i].day == day {
			g = &w.groups[i]
		}
	}
	if g == nil {
		w.groups = append(w.groups, countGroup{dp: dp, day: day})
		g = &w.groups[len(w.groups)-1]
	}
	g.hours, g.lines = append(g.hours, hour), append(g.lines, line)
}

// write writes every day's record and then moves each device's bound of
// the latest hour held. A day after the bound is new: its record is not
// read.
func (w *countWrites) write(o *op) error {
	for i := range w.groups {
		g := &w.groups[i]
		mayExist := !g.dp.throughOK || g.dp.through >= g.day
		if err := o.putCounts(g.dp.id, g.day, mayExist, g.hours, g.lines); err != nil {
			return err
		}
	}
	for i := range w.groups {
		g := &w.groups[i]
		g.dp.through = max(g.dp.through, slices.Max(g.hours))
	}
	return nil
}

// EncodeCountDay is the record of one device's day holding counts, all of
// that day and in ascending hours, as the ledger stores it under
// store.CountDayKey: for loading a ledger's keys directly (ledgertest's
// fleets for benchmarks), as syncs would have left them.
func EncodeCountDay(counts []syncproto.HourlyCount) ([]byte, error) {
	d := &countDay{}
	for i := range counts {
		c := &counts[i]
		if i > 0 && (dayOf(c.Hour) != dayOf(counts[0].Hour) || c.Hour <= counts[i-1].Hour) {
			return nil, fmt.Errorf("%w: hour %d out of place", errCountDay, c.Hour)
		}
		line, err := json.Marshal(c)
		if err != nil {
			return nil, err
		}
		d.hours, d.lines = append(d.hours, c.Hour), append(d.lines, line)
	}
	return d.encode(), nil
}
