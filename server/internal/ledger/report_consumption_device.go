package ledger

import (
	"strconv"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
	"github.com/tollgate-iot/tollgate/shared/token"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// budgetWindowHours is the rolling window of a device's sample budget, as
// the agent keeps it: the budget is max_samples_per_hour × 24 over the
// last 24 hours.
const budgetWindowHours = 24

// maxMonthDays bounds the days of a month.
const maxMonthDays = 31

// consumptionDevice computes one device's month; its buffers are reused
// from device to device, so that the walk's memory does not grow with
// the number of devices or hours.
type consumptionDevice struct {
	row ConsumptionDevice
	// window holds the accepted samples of the last budgetWindowHours
	// hours, by hour modulo the window; windowHour says which hour each
	// slot holds.
	window     [budgetWindowHours]int64
	windowHour [budgetWindowHours]int64
	overDay    [maxMonthDays]bool
	bound      int // the first bound licenses of row.Licenses are bound now
}

// compute fills the report of d for the hours [from, to) and returns it;
// the result is valid until the next call.
func (c *consumptionDevice) compute(o *op, d *Device, from, to int64) (*ConsumptionDevice, error) {
	lics := c.row.Licenses[:0]
	c.row = ConsumptionDevice{DeviceID: d.ID, CustomerID: d.CustomerID, Blacklisted: d.Blacklisted, Licenses: lics}
	c.window, c.windowHour, c.overDay = [budgetWindowHours]int64{}, [budgetWindowHours]int64{}, [maxMonthDays]bool{}
	if err := c.licenses(o, d); err != nil {
		return nil, err
	}
	if err := c.deductions(o, d, from, to); err != nil {
		return nil, err
	}
	c.budget(o.now, from)
	if err := c.reported(o, d, from, to); err != nil {
		return nil, err
	}
	if err := c.observed(o, d, from, to); err != nil {
		return nil, err
	}
	for _, over := range c.overDay {
		if over {
			c.row.DaysOverBudget++
		}
	}
	return &c.row, nil
}

func consumptionLicense(l *License) ConsumptionLicense {
	return ConsumptionLicense{ID: l.ID, Serial: l.Serial, Type: l.Type, Billing: l.Billing, Enforcement: l.Enforcement,
		MaxSamplesPerHour: l.MaxSamplesPerHour, RetentionDays: l.RetentionDays}
}

// licenses lists the licenses bound to d now.
func (c *consumptionDevice) licenses(o *op, d *Device) error {
	err := o.x.Scan(store.LicenseByDevicePrefix(d.ID), nil, false, func(k, _ []byte) (bool, error) {
		l, err := o.license(store.LastPart(k))
		if err != nil {
			return false, err
		}
		c.row.Licenses = append(c.row.Licenses, consumptionLicense(l))
		return true, nil
	})
	c.bound = len(c.row.Licenses)
	return err
}

// deductions counts the days charged for d in [from, to), per license
// (adding a license charged in the month that is no longer bound), and
// the failed ones; then the days charged for forked records (a seq the
// device used twice), which are kept with the license that paid them.
func (c *consumptionDevice) deductions(o *op, d *Device, from, to int64) error {
	if err := c.deviceDays(o, d, from, to); err != nil {
		return err
	}
	for i := range c.row.Licenses {
		l := &c.row.Licenses[i]
		if l.Billing != token.BillingDays {
			continue
		}
		err := o.x.Scan(store.DeductionByLicenseDevicePrefix(l.ID, d.ID), nil, true, func(_, v []byte) (bool, error) {
			var rec Deduction
			if err := jsonUnmarshal(v, &rec); err != nil {
				return false, err
			}
			if at := rec.At.Unix(); rec.Fork != "" && at >= from && at < to {
				l.DaysCharged++
				c.row.DaysCharged++
			}
			return true, nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// deviceDays counts d's own deduction records of [from, to).
func (c *consumptionDevice) deviceDays(o *op, d *Device, from, to int64) error {
	return o.x.Scan(store.DeductionPrefix(d.ID), nil, true, func(_, v []byte) (bool, error) {
		var rec Deduction
		if err := jsonUnmarshal(v, &rec); err != nil {
			return false, err
		}
		if at := rec.At.Unix(); at < from || at >= to {
			return true, nil
		}
		if rec.Failed {
			c.row.DaysFailed++
			return true, nil
		}
		c.row.DaysCharged++
		for i := range c.row.Licenses {
			if c.row.Licenses[i].ID == rec.LicenseID {
				c.row.Licenses[i].DaysCharged++
				return true, nil
			}
		}
		l, err := o.license(rec.LicenseID)
		if err != nil {
			return false, err
		}
		cl := consumptionLicense(l)
		cl.DaysCharged = 1
		c.row.Licenses = append(c.row.Licenses, cl)
		return true, nil
	})
}

// budget picks the license whose rate sets the budget — the highest rate
// among the licenses bound now (0, no limit, above any), or among those
// charged in the month when none is bound — and the retention note.
func (c *consumptionDevice) budget(now time.Time, from int64) {
	cands := c.row.Licenses[:c.bound]
	if len(cands) == 0 {
		cands = c.row.Licenses
	}
	var pick *ConsumptionLicense
	for i := range cands {
		l := &cands[i]
		if pick == nil || pick.MaxSamplesPerHour != 0 && (l.MaxSamplesPerHour == 0 || l.MaxSamplesPerHour > pick.MaxSamplesPerHour) {
			pick = l
		}
	}
	if pick != nil {
		c.row.SamplesPerHour, c.row.Enforcement = pick.MaxSamplesPerHour, pick.Enforcement
		c.row.Budget24h = pick.MaxSamplesPerHour * budgetWindowHours
	}
	keep := 0
	for _, l := range c.row.Licenses {
		if l.RetentionDays > keep { // the longest, as pruning keeps (retention.go)
			keep = l.RetentionDays
		}
	}
	if keep == 0 {
		keep = DefaultRetentionDays // what pruning keeps of a device without a license
	}
	if cutoff := now.Add(-time.Duration(keep) * Day); from < cutoff.Unix() {
		c.row.RetainedFrom = cutoff
	}
}

// used is the accepted samples of the budgetWindowHours hours ending with
// hour (Unix seconds).
func (c *consumptionDevice) used(hour int64) int64 {
	var n int64
	for i, h := range c.windowHour {
		if h > hour-budgetWindowHours*3600 && h <= hour {
			n = addCount(n, c.window[i])
		}
	}
	return n
}

// reported walks d's hourly counts from the budget window before from up
// to to, in hour order.
func (c *consumptionDevice) reported(o *op, d *Device, from, to int64) error {
	start := from - (budgetWindowHours-1)*3600
	enforce := c.row.Enforcement == token.EnforcementEnforce && c.row.Budget24h > 0
	return o.scanCounts(d.ID, start, true, func(h *syncproto.HourlyCount) (bool, error) {
		if h.Hour >= to {
			return false, nil
		}
		slot := (h.Hour / 3600) % budgetWindowHours
		c.window[slot], c.windowHour[slot] = h.Accepted, h.Hour
		if h.Hour < from {
			return true, nil
		}
		r := &c.row
		r.Samples = addCount(r.Samples, h.Accepted)
		if h.Accepted > r.PeakCount {
			r.PeakHour, r.PeakCount = h.Hour, h.Accepted
		}
		day := (h.Hour - from) / (24 * 3600)
		r.Refused.addHour(h)
		switch {
		case enforce && len(h.RefusedBy) > 0:
			if n := h.RefusedBy[wire.ReasonOverBudget]; n > 0 {
				r.Overage = addCount(r.Overage, n)
				c.overDay[day] = true
			}
		case enforce && h.Refused > 0 && c.used(h.Hour) >= r.Budget24h:
			// An older agent's hour, without reasons: its refusals while
			// the rolling 24 hours had used the budget were over budget.
			r.Overage = addCount(r.Overage, h.Refused)
			c.overDay[day] = true
		case !enforce:
			r.Overage = addCount(r.Overage, h.Overage)
			if h.Overage > 0 {
				c.overDay[day] = true
			}
		}
		return true, nil
	})
}

// observed sums the broker-observed counts of d in [from, to).
func (c *consumptionDevice) observed(o *op, d *Device, from, to int64) error {
	return o.x.ScanInPlace(store.ObservedCountPrefix(d.ID), store.ObservedCountKey(d.ID, from-1), func(k, v []byte) (bool, error) {
		h, err := strconv.ParseInt(store.LastPart(k), 10, 64)
		if err != nil || h >= to {
			return false, err
		}
		n, err := parseObserved(v)
		if err != nil {
			return false, err
		}
		c.row.Observed = addCount(c.row.Observed, n)
		c.row.ObservedHours++
		c.row.HasObserved = true
		return true, nil
	})
}

// parseHourlyCount reads an hourly count as the ledger writes it
// (encoding/json of syncproto.HourlyCount: device_id, hour, accepted,
// overage, refused and, if any, refused_by with its reasons in key order,
// without spaces) without reflection — a month's report reads 744 of them
// per device — and without allocation once c.RefusedBy, which it clears
// and reuses, has room. It leaves DeviceID empty and reports false for
// anything else, which the caller then decodes with encoding/json.
func parseHourlyCount(v []byte, c *syncproto.HourlyCount) bool {
	rest, ok := cutPrefix(v, `{"device_id":"`)
	if !ok {
		return false
	}
	i := 0
	for i < len(rest) && rest[i] != '"' && rest[i] != '\\' {
		i++
	}
	if i == len(rest) || rest[i] != '"' {
		return false
	}
	rest = rest[i+1:]
	for _, f := range [...]struct {
		name string
		dst  *int64
	}{{`,"hour":`, &c.Hour}, {`,"accepted":`, &c.Accepted}, {`,"overage":`, &c.Overage}, {`,"refused":`, &c.Refused}} {
		if rest, ok = cutPrefix(rest, f.name); !ok {
			return false
		}
		if *f.dst, rest, ok = cutInt(rest); !ok {
			return false
		}
	}
	clear(c.RefusedBy)
	if rest, ok = cutPrefix(rest, `,"refused_by":{`); ok {
		if rest, ok = parseReasons(rest, c); !ok {
			return false
		}
	}
	return len(rest) == 1 && rest[0] == '}'
}

// quotedReasons are the reasons as JSON object keys with their colon.
var quotedReasons = func() (q [NumRefusalReasons]string) {
	for i, r := range wire.RefusalReasons {
		q[i] = `"` + r + `":`
	}
	return q
}()

// parseReasons reads the reasons of a refused_by object after its "{",
// up to and including its "}", into c.RefusedBy; each must be a known
// reason.
func parseReasons(rest []byte, c *syncproto.HourlyCount) ([]byte, bool) {
	for first := true; ; first = false {
		if r, ok := cutPrefix(rest, "}"); ok && !first {
			return r, true
		}
		if !first {
			var ok bool
			if rest, ok = cutPrefix(rest, ","); !ok {
				return rest, false
			}
		}
		found := false
		for i, name := range wire.RefusalReasons {
			if r, ok := cutPrefix(rest, quotedReasons[i]); ok {
				n, r, ok := cutInt(r)
				if !ok {
					return rest, false
				}
				if c.RefusedBy == nil {
					c.RefusedBy = make(map[string]int64, 4)
				}
				c.RefusedBy[name], rest, found = n, r, true
				break
			}
		}
		if !found {
			return rest, false
		}
	}
}

func cutPrefix(b []byte, p string) ([]byte, bool) {
	if len(b) < len(p) || string(b[:len(p)]) != p {
		return b, false
	}
	return b[len(p):], true
}

// cutInt reads a non-negative decimal of at most 18 digits (no overflow).
func cutInt(b []byte) (int64, []byte, bool) {
	var n int64
	i := 0
	for i < len(b) && i < 18 && b[i] >= '0' && b[i] <= '9' {
		n = n*10 + int64(b[i]-'0')
		i++
	}
	if i == 0 || i < len(b) && b[i] >= '0' && b[i] <= '9' {
		return 0, b, false
	}
	return n, b[i:], true
}
