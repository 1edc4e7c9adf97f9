package syncer

import (
	"math"
	"slices"

	"github.com/tollgate-iot/tollgate/agent/internal/store"
	"github.com/tollgate-iot/tollgate/shared/limits"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
)

// hourSeconds is one hour in Unix seconds.
const hourSeconds = 3600

// Held is what the agent holds and reports with its usage: the license
// versions (any order) and the revocation list's seq (0: none).
type Held struct {
	Tokens        []syncproto.TokenVersion
	RevocationSeq int64
}

// Page is what one report carries beyond the records themselves: the
// marks that move when the server acknowledges it.
type Page struct {
	// LastSeq is the highest deduction seq in the report (0: none).
	LastSeq int64
	// Hours maps each device with counts in the report to its last hour
	// (Unix hours) in it.
	Hours map[string]int64
	// FromSeq is the acknowledged seq the report started above.
	FromSeq int64
	// ChildFrom and ChildLast are, per gateway child with deductions in
	// the report, the acknowledged seq its records started above and the
	// highest seq of its records in the report.
	ChildFrom, ChildLast map[string]int64
	// MoreDeductions and MoreCounts tell that records were left out for a
	// later report.
	MoreDeductions, MoreCounts bool
}

// BuildInput is what Build needs besides the store.
type BuildInput struct {
	// DeviceID is the reporting device (the agent's own).
	DeviceID string
	// Devices are the devices whose hourly counts are reported: the
	// agent's own and a gateway's children.
	Devices []string
	Held    Held
	Nonce   string
	// SentAt is the effective time, Unix seconds.
	SentAt int64
	// SentWall is the real wall clock, Unix seconds (0: none, the server
	// judges the report's freshness on SentAt).
	SentWall int64
}

// Build makes the next report from the store: the agent's deduction
// records above the acknowledged seq, then each gateway child's above its
// own (ascending by device and seq, at most limits.MaxSyncDeductions in
// all), and the hourly counts of every device from the
// hour last acknowledged on (cumulative values, ascending by device and
// hour, at most limits.MaxSyncCounts). The Page tells whether the store
// holds more than the report carries.
func Build(st *store.Store, in BuildInput) (*syncproto.Report, Page, error) {
	acked, err := st.Int(store.KeySyncAcked())
	if err != nil {
		return nil, Page{}, err
	}
	// One record more than fits tells whether more remain.
	ds, err := st.DeductionsAfter(in.DeviceID, acked, limits.MaxSyncDeductions+1)
	if err != nil {
		return nil, Page{}, err
	}
	r := &syncproto.Report{DeviceID: in.DeviceID, Nonce: in.Nonce, SentAt: in.SentAt, SentWall: in.SentWall,
		RevocationSeq: in.Held.RevocationSeq, Tokens: sortedTokens(in.Held.Tokens),
		Deductions: make([]syncproto.Deduction, 0, min(len(ds), limits.MaxSyncDeductions))}
	p := Page{Hours: map[string]int64{}, FromSeq: acked, ChildFrom: map[string]int64{}, ChildLast: map[string]int64{}}
	for i, d := range ds {
		if i == limits.MaxSyncDeductions {
			p.MoreDeductions = true
			break
		}
		r.Deductions = append(r.Deductions, syncproto.Deduction{Seq: d.Seq, LicenseID: d.LicenseID, At: d.At,
			PaidUntil: d.PaidUntil, DaysBefore: d.DaysBefore, DaysAfter: d.DaysAfter, Failed: d.Failed})
		p.LastSeq = d.Seq
	}
	if !p.MoreDeductions {
		if p.MoreDeductions, err = addChildDeductions(st, r, &p, in); err != nil {
			return nil, Page{}, err
		}
	}
	p.MoreCounts, err = addCounts(st, r, p.Hours, in.Devices)
	return r, p, err
}

// addChildDeductions appends the deduction records of a gateway's
// children (in id order), each above the seq the server acknowledged for
// it, until the report is full; it reports whether some were left out.
func addChildDeductions(st *store.Store, r *syncproto.Report, p *Page, in BuildInput) (bool, error) {
	var children []string
	for _, d := range in.Devices {
		if d != in.DeviceID {
			children = append(children, d)
		}
	}
	slices.Sort(children)
	children = slices.Compact(children)
	acked, err := st.ChildAcked(children)
	if err != nil {
		return false, err
	}
	for _, dev := range children {
		room := limits.MaxSyncDeductions - len(r.Deductions)
		ds, err := st.DeductionsAfter(dev, acked[dev], room+1)
		if err != nil {
			return false, err
		}
		for i, d := range ds {
			if i == room {
				return true, nil
			}
			r.Deductions = append(r.Deductions, syncproto.Deduction{DeviceID: dev, Seq: d.Seq, LicenseID: d.LicenseID,
				At: d.At, PaidUntil: d.PaidUntil, DaysBefore: d.DaysBefore, DaysAfter: d.DaysAfter, Failed: d.Failed})
			p.ChildFrom[dev], p.ChildLast[dev] = acked[dev], d.Seq
		}
	}
	return false, nil
}

// addCounts appends the counts of devices (in id order) to r until the
// report is full; it reports whether some were left out. An hour's count
// joins its bucket (accepted, overage) and its refused samples, which are
// kept apart; an hour with refusals only is reported too.
func addCounts(st *store.Store, r *syncproto.Report, hours map[string]int64, devices []string) (bool, error) {
	devs := slices.Clone(devices)
	slices.Sort(devs)
	devs = slices.Compact(devs)
	from, err := st.SyncHours(devs)
	if err != nil {
		return false, err
	}
	r.Counts = []syncproto.HourlyCount{}
	for _, dev := range devs {
		room := limits.MaxSyncCounts - len(r.Counts)
		cs, err := st.CountsFrom(dev, from[dev], room+1)
		if err != nil {
			return false, err
		}
		rs, err := st.RefusedFrom(dev, from[dev], room+1)
		if err != nil {
			return false, err
		}
		merged, more := mergeHours(dev, cs, rs, room)
		for _, c := range merged {
			r.Counts = append(r.Counts, c)
			hours[dev] = c.Hour / hourSeconds
		}
		if more {
			return true, nil
		}
	}
	return false, nil
}

// mergeHours joins a device's buckets and refused counts (each ascending,
// each at most room+1 long) into at most room hourly counts, ascending by
// hour, and reports whether more remain. A list that came back full ends
// where it was cut: no hour past its last is known complete.
func mergeHours(dev string, cs []store.HourCount, rs []store.HourRefused, room int) ([]syncproto.HourlyCount, bool) {
	bound := int64(math.MaxInt64)
	if len(cs) > room {
		bound = cs[len(cs)-1].Hour
	}
	if len(rs) > room {
		bound = min(bound, rs[len(rs)-1].Hour)
	}
	var out []syncproto.HourlyCount
	i, j := 0, 0
	for i < len(cs) || j < len(rs) {
		var c syncproto.HourlyCount
		switch {
		case j == len(rs) || i < len(cs) && cs[i].Hour < rs[j].Hour:
			c = bucketCount(dev, cs[i].Hour, cs[i].Bucket, store.HourRefused{})
			i++
		case i == len(cs) || rs[j].Hour < cs[i].Hour:
			c = bucketCount(dev, rs[j].Hour, store.Bucket{}, rs[j])
			j++
		default: // the same hour
			c = bucketCount(dev, cs[i].Hour, cs[i].Bucket, rs[j])
			i, j = i+1, j+1
		}
		if c.Hour/hourSeconds > bound {
			return out, true
		}
		if len(out) == room {
			return out, true
		}
		out = append(out, c)
	}
	return out, bound != math.MaxInt64
}

// bucketCount makes the hourly count of a bucket and the hour's refusals.
// Refusals by reason the server would refuse (a store damaged or written
// by another version) are left out: the hour is reported with its
// refusals' reasons unknown rather than refused whole, sync after sync.
func bucketCount(dev string, hour int64, b store.Bucket, r store.HourRefused) syncproto.HourlyCount {
	c := syncproto.HourlyCount{DeviceID: dev, Hour: hour * hourSeconds, Accepted: b.Accepted,
		Overage: min(b.Overage, b.Accepted), Refused: r.Refused}
	if len(r.By) > 0 {
		c.RefusedBy = r.By
		if c.CheckRefusedBy() != nil {
			c.RefusedBy = nil
		}
	}
	return c
}

func sortedTokens(ts []syncproto.TokenVersion) []syncproto.TokenVersion {
	out := slices.Clone(ts)
	if out == nil {
		out = []syncproto.TokenVersion{}
	}
	slices.SortFunc(out, func(a, b syncproto.TokenVersion) int {
		if a.LicenseID < b.LicenseID {
			return -1
		}
		if a.LicenseID > b.LicenseID {
			return 1
		}
		return 0
	})
	return slices.CompactFunc(out, func(a, b syncproto.TokenVersion) bool { return a.LicenseID == b.LicenseID })
}
