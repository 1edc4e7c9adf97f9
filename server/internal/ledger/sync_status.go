package ledger

import (
	"context"
	"math"

	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
)

// CountTotals sums hourly counts over a period.
type CountTotals struct {
	Accepted int64 `json:"accepted"`
	Overage  int64 `json:"overage"`
	Refused  int64 `json:"refused"`
	// RefusedBy sums the refusals by reason (nil: none had a reason).
	RefusedBy map[string]int64 `json:"refused_by,omitempty"`
}

// add sums saturating: counts are bounded per hour (a report past
// limits.MaxCountPerHour is refused), so a device's week stays far from
// the int64 range, but counts stored before the bound existed are not,
// and a total must never wrap negative.
func (t *CountTotals) add(c *syncproto.HourlyCount) {
	t.Accepted = addCount(t.Accepted, c.Accepted)
	t.Overage = addCount(t.Overage, c.Overage)
	t.Refused = addCount(t.Refused, c.Refused)
	t.addReasons(c.RefusedBy)
}

// addReasons adds refusals by reason (counts of 0 and below are left out).
func (t *CountTotals) addReasons(by map[string]int64) {
	for r, n := range by {
		t.addReason(r, n)
	}
}

// addReason adds n refusals of reason r (nothing if n is not positive).
func (t *CountTotals) addReason(r string, n int64) {
	if n <= 0 {
		return
	}
	if t.RefusedBy == nil {
		t.RefusedBy = map[string]int64{}
	}
	t.RefusedBy[r] = addCount(t.RefusedBy[r], n)
}

// zero reports whether t counts nothing.
func (t *CountTotals) zero() bool {
	return t.Accepted == 0 && t.Overage == 0 && t.Refused == 0 && len(t.RefusedBy) == 0
}

// addCount adds two counts, neither negative, saturating at the int64
// maximum instead of wrapping.
func addCount(a, b int64) int64 {
	if b > math.MaxInt64-a {
		return math.MaxInt64
	}
	return a + b
}

// SyncStatus is the admin view of a device's syncs: what was reconciled,
// what is missing, what conflicts, and what the device did per hour.
type SyncStatus struct {
	DeviceID string `json:"device_id"`
	SyncState
	// Missing are the seq ranges held neither by the ledger nor acked.
	Missing []syncproto.SeqRange `json:"missing"`
	// ForkList and OverdraftList hold at most MaxSyncListed entries each,
	// oldest seq first; SyncState has their totals.
	ForkList      []Fork      `json:"fork_list"`
	OverdraftList []Deduction `json:"overdraft_list"`
	// Hourly are the device's own counts of the last 7 days of its clock,
	// oldest first: up to the server's time, or, when its clock is off
	// (Clock.Off), up to the device's time at its last sync.
	Hourly []syncproto.HourlyCount `json:"hourly"`
	// Last24h and Last7d sum the last 24 hours and 7 days of the server's
	// clock: the counts of those hours, or, when the device's clock is off
	// (ByReceipt), what its syncs received in those hours added.
	Last24h CountTotals `json:"last_24h"`
	Last7d  CountTotals `json:"last_7d"`
	// Clock is the device's clock (its gateway's for a gateway child) at
	// its last sync.
	Clock     DeviceClock `json:"-"`
	ByReceipt bool        `json:"-"`
}

// DeviceSyncStatus returns the sync status of a device the actor may see.
func (lg *Ledger) DeviceSyncStatus(ctx context.Context, a Actor, id string) (*SyncStatus, error) {
	out := &SyncStatus{ForkList: []Fork{}, OverdraftList: []Deduction{}, Hourly: []syncproto.HourlyCount{}}
	err := lg.view(func(o *op) error {
		d, err := o.visibleDevice(a, id)
		if err != nil {
			return err
		}
		out.DeviceID = d.ID
		if out.SyncState, err = o.syncState(d.ID); err != nil {
			return err
		}
		if _, _, out.Missing, err = o.ackState(d.ID, out.AckedSeq); err != nil {
			return err
		}
		if err := o.listForksAndOverdrafts(d.ID, out); err != nil {
			return err
		}
		if out.Clock, err = o.deviceClock(d); err != nil {
			return err
		}
		return o.recentCounts(d.ID, out)
	})
	return out, err
}

func (o *op) listForksAndOverdrafts(deviceID string, out *SyncStatus) error {
	err := o.x.Scan(store.ForkPrefix(deviceID), nil, true, func(_, v []byte) (bool, error) {
		var f Fork
		if err := jsonUnmarshal(v, &f); err != nil {
			return false, err
		}
		out.ForkList = append(out.ForkList, f)
		return len(out.ForkList) < MaxSyncListed, nil
	})
	if err != nil {
		return err
	}
	return o.x.Scan(store.DeductionPrefix(deviceID), nil, true, func(_, v []byte) (bool, error) {
		var d Deduction
		if err := jsonUnmarshal(v, &d); err != nil {
			return false, err
		}
		if d.Failed {
			out.OverdraftList = append(out.OverdraftList, d)
		}
		return len(out.OverdraftList) < MaxSyncListed, nil
	})
}

// recentCounts lists the hours that overlap the last 7 days and sums those
// overlapping the last 24 hours and 7 days. An hour not yet begun (a device
// clock ahead of the server's) is left out. For a device whose clock is
// off, the 7 days listed end at its clock at its last sync if that is
// later (a device ahead), and the sums
// are what its syncs received in the server's last 24 hours and 7 days.
func (o *op) recentCounts(deviceID string, out *SyncStatus) error {
	now := o.now.Unix()
	end := now
	if out.Clock.Off() {
		out.ByReceipt = true
		var err error
		if out.Last24h, err = o.received(deviceID, now-24*3600, now+1); err != nil {
			return err
		}
		if out.Last7d, err = o.received(deviceID, now-syncStatusHours*3600, now+1); err != nil {
			return err
		}
		end = max(end, out.Clock.DeviceNow().Unix()+1) // a device ahead: up to the hour it was in
	}
	from7, from24 := end-syncStatusHours*3600, end-24*3600
	return o.scanCounts(deviceID, from7-3600+1, false, func(pc *syncproto.HourlyCount) (bool, error) {
		c := *pc
		if c.Hour >= end {
			return false, nil
		}
		if c.Hour+3600 <= from7 {
			return true, nil
		}
		out.Hourly = append(out.Hourly, c)
		if !out.ByReceipt {
			out.Last7d.add(&c)
			if c.Hour+3600 > from24 {
				out.Last24h.add(&c)
			}
		}
		return true, nil
	})
}
