package ledger

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/store"
)

// Bounds of one retention pass (PruneRetention): the scheduler calls it on
// every tick, so a backlog is worked off over several passes instead of
// holding the write lock for long.
const (
	// MaxPrunedPerPass caps the records one pass deletes or trims: a
	// day of reported counts, an hour of observed (with its by-hour index
	// entry) or received counts.
	MaxPrunedPerPass = 2000
	// MaxPruneDevicesPerPass caps the devices one pass visits.
	MaxPruneDevicesPerPass = 500
)

// retentionCursor remembers where the last retention pass stopped: the
// last device it finished ("" : start from the first device). It lives in
// memory only; after a restart the walk starts again from the first
// device, which costs one more round and deletes nothing twice.
type retentionCursor struct {
	lastDone string
}

// PruneRetention deletes, for at most MaxPruneDevicesPerPass devices and
// at most MaxPrunedPerPass keys, the hourly counts older than the device's
// retention: the counts the device reported (hours of its clock), the
// counts the broker observed (and their by-hour index) and the counts per
// hour of the server's clock that syncs brought. A device's retention is
// retentionDays. The walk goes through the devices in id order and the
// next pass continues where this one stopped; it reports how many keys it
// deleted.
func (lg *Ledger) PruneRetention(ctx context.Context) (pruned int, err error) {
	// next is where the walk goes on; it replaces the cursor only once the
	// transaction committed, so a transaction the store runs again (a
	// PostgreSQL serialization retry) starts from the same place.
	var next string
	err = lg.update(func(o *op) error {
		pruned = 0
		cur := lg.retention.lastDone
		var after []byte
		if cur != "" {
			after = store.DeviceKey(cur)
		}
		var ids []string
		err := o.x.Scan(store.DevicePrefix(), after, false, func(k, _ []byte) (bool, error) {
			ids = append(ids, store.LastPart(k))
			return len(ids) < MaxPruneDevicesPerPass, nil
		})
		if err != nil {
			return err
		}
		licRetention := map[string]int{}
		for _, id := range ids {
			if err := ctx.Err(); err != nil {
				return err
			}
			keep, err := o.retentionDays(id, licRetention)
			if err != nil {
				return err
			}
			n, done, err := o.pruneDevice(id, keep, MaxPrunedPerPass-pruned)
			pruned += n
			if err != nil {
				return err
			}
			if !done {
				next = cur // this device continues next pass
				return nil
			}
			cur = id
		}
		if len(ids) < MaxPruneDevicesPerPass {
			cur = "" // the walk reached the last device: start again
		}
		next = cur
		return nil
	})
	if err == nil {
		lg.mu.Lock()
		lg.retention.lastDone = next
		lg.mu.Unlock()
	}
	return pruned, err
}

// retentionDays is how many days of a device's hourly counts are kept:
// the longest retention_days among the licenses bound to it now and the
// licenses charged a day for it within the window that retention keeps
// (a charge found in the window can lengthen the window, so the older
// charges it then covers count too). A device with no such license keeps
// DefaultRetentionDays. lics caches license retentions within one pass.
func (o *op) retentionDays(deviceID string, lics map[string]int) (int, error) {
	of := func(licenseID string) (int, error) {
		if r, ok := lics[licenseID]; ok {
			return r, nil
		}
		l, err := o.license(licenseID)
		if err != nil {
			return 0, err
		}
		lics[licenseID] = l.RetentionDays
		return l.RetentionDays, nil
	}
	keep, bound := 0, false
	err := o.x.Scan(store.LicenseByDevicePrefix(deviceID), nil, false, func(k, _ []byte) (bool, error) {
		r, err := of(store.LastPart(k))
		keep, bound = max(keep, r), true
		return err == nil, err
	})
	if err != nil {
		return 0, err
	}
	if !bound || keep <= 0 {
		keep = DefaultRetentionDays
	}
	err = o.x.Reverse(store.DeductionPrefix(deviceID), nil, func(_, v []byte) (bool, error) {
		var rec Deduction
		if err := jsonUnmarshal(v, &rec); err != nil {
			return false, err
		}
		if rec.At.Before(o.now.Add(-time.Duration(keep) * Day)) {
			return false, nil
		}
		if rec.LicenseID == "" {
			return true, nil
		}
		r, err := of(rec.LicenseID)
		keep = max(keep, r)
		return err == nil, err
	})
	return keep, err
}

// pruneDevice deletes at most limit of the device's count records for
// hours before now less keep days, and says whether none is left.
func (o *op) pruneDevice(deviceID string, keep, limit int) (n int, done bool, err error) {
	cutoff := o.now.Add(-time.Duration(keep) * Day).Unix()
	cutoff -= cutoff % 3600 // whole hours: the hour holding the cutoff is kept
	if n, err = o.pruneCountDays(deviceID, cutoff, limit); err != nil || n >= limit {
		return n, false, err
	}
	tables := []struct {
		prefix []byte
		key    func(string, int64) []byte
	}{
		{store.ObservedCountPrefix(deviceID), store.ObservedCountKey},
		{store.ReceivedCountPrefix(deviceID), store.ReceivedCountKey},
	}
	for ti, t := range tables {
		end := t.key(deviceID, cutoff)
		var old [][]byte
		err := o.x.Scan(t.prefix, nil, false, func(k, _ []byte) (bool, error) {
			if bytes.Compare(k, end) >= 0 || n+len(old) >= limit {
				return false, nil
			}
			old = append(old, bytes.Clone(k))
			return true, nil
		})
		if err != nil {
			return n, false, err
		}
		for _, k := range old {
			if ti == 0 { // an observed count has a by-hour index entry too
				hour, err := strconv.ParseInt(store.LastPart(k), 10, 64)
				if err != nil {
					return n, false, fmt.Errorf("ledger: observed count key %q: %w", k, err)
				}
				if err := o.x.Delete(store.ObservedByHourKey(hour, deviceID)); err != nil {
					return n, false, err
				}
			}
			if err := o.x.Delete(k); err != nil {
				return n, false, err
			}
			n++
		}
		if n >= limit {
			return n, false, nil
		}
	}
	return n, true, nil
}

// pruneCountDays deletes at most limit of the device's days of reported
// counts before the day holding cutoff, then, within the limit, that
// day's hours before cutoff; it returns how many records it deleted or
// rewrote.
func (o *op) pruneCountDays(deviceID string, cutoff int64, limit int) (int, error) {
	day := dayOf(cutoff)
	end := store.CountDayKey(deviceID, day)
	var old [][]byte
	err := o.x.Scan(store.CountDayPrefix(deviceID), nil, false, func(k, _ []byte) (bool, error) {
		if bytes.Compare(k, end) >= 0 || len(old) >= limit {
			return false, nil
		}
		old = append(old, bytes.Clone(k))
		return true, nil
	})
	if err != nil {
		return 0, err
	}
	for _, k := range old {
		if err := o.x.Delete(k); err != nil {
			return 0, err
		}
	}
	n := len(old)
	if n >= limit || cutoff == day {
		return n, nil
	}
	d, err := o.countDayOf(deviceID, day, true)
	if err != nil {
		return n, err
	}
	i, _ := slices.BinarySearch(d.hours, cutoff)
	if i == 0 {
		return n, nil
	}
	d.hours, d.lines = d.hours[i:], d.lines[i:]
	if len(d.hours) == 0 {
		return n + 1, o.x.Delete(end)
	}
	return n + 1, o.x.Put(end, d.encode())
}
