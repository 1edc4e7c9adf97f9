package ledger

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/store"
)

// The offline index answers "devices not synced for longer than their
// max_offline" by reading only the devices whose deadline has passed. A
// device's max_offline is the smallest max_offline_seconds of the
// licenses bound to it that are not revoked or transferred (its strictest
// token; 0 sets no limit); its deadline is its last sync, or its creation
// if it never synced, plus that. A device with no such license has no
// entry. The entry moves at every sync (putOfflineSync) and is recomputed
// when a license is bound to or leaves the device (putOffline).

// offlineRef is a device's current entry: StatsOfflineOfKey's value.
type offlineRef struct {
	Customer   string `json:"c"`
	MaxOffline int64  `json:"m"` // seconds
	Deadline   int64  `json:"d"` // Unix nanoseconds
}

// offlineChanged reports whether a license write may change the max_offline
// of the devices it leaves or joins.
func offlineChanged(before, l *License) bool {
	return before.DeviceID != l.DeviceID || before.MaxOfflineSeconds != l.MaxOfflineSeconds ||
		before.terminal() != l.terminal()
}

// putLicenseOffline recomputes the entries of the devices a license write
// may have changed the max_offline of.
func (o *op) putLicenseOffline(before, l *License) error {
	if !offlineChanged(before, l) {
		return nil
	}
	if before.DeviceID != "" && before.DeviceID != l.DeviceID {
		if err := o.putOffline(before.DeviceID); err != nil {
			return err
		}
	}
	if l.DeviceID == "" {
		return nil
	}
	return o.putOffline(l.DeviceID)
}

// putOffline recomputes the entry of device from its licenses.
func (o *op) putOffline(device string) error {
	d, err := o.device(device)
	if errors.Is(err, ErrNotFound) {
		return o.moveOffline(device, nil)
	}
	if err != nil {
		return err
	}
	var limit int64 = -1
	var ids []string
	err = o.x.Scan(store.LicenseByDevicePrefix(device), nil, false, func(k, _ []byte) (bool, error) {
		ids = append(ids, store.LastPart(k))
		return true, nil
	})
	if err != nil {
		return err
	}
	for _, id := range ids {
		var l License
		if err := o.x.GetJSON(store.LicenseKey(id), &l); err != nil {
			return err
		}
		if !l.terminal() && l.MaxOfflineSeconds > 0 && (limit < 0 || l.MaxOfflineSeconds < limit) {
			limit = l.MaxOfflineSeconds
		}
	}
	if limit < 0 {
		return o.moveOffline(device, nil)
	}
	st, err := o.syncState(device)
	if err != nil {
		return err
	}
	from := st.LastSyncAt
	if from.IsZero() {
		from = d.CreatedAt
	}
	return o.moveOffline(device, &offlineRef{Customer: d.CustomerID, MaxOffline: limit,
		Deadline: from.Add(time.Duration(limit) * time.Second).UnixNano()})
}

// putOfflineSync moves device's entry to now plus its max_offline: it
// has just synced.
func (o *op) putOfflineSync(device string) error {
	cur, err := o.offlineRef(device)
	if err != nil || cur == nil {
		return err
	}
	next := *cur
	next.Deadline = o.now.Add(time.Duration(cur.MaxOffline) * time.Second).UnixNano()
	return o.replaceOffline(device, cur, &next)
}

func (o *op) offlineRef(device string) (*offlineRef, error) {
	b, err := o.x.Get(store.StatsOfflineOfKey(device))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var r offlineRef
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, errStatsKey
	}
	return &r, nil
}

// moveOffline replaces device's entry by next (nil: none).
func (o *op) moveOffline(device string, next *offlineRef) error {
	cur, err := o.offlineRef(device)
	if err != nil {
		return err
	}
	return o.replaceOffline(device, cur, next)
}

// replaceOffline replaces device's entry cur (nil: none) by next.
func (o *op) replaceOffline(device string, cur, next *offlineRef) error {
	if cur != nil && next != nil && *cur == *next {
		return nil
	}
	if cur != nil {
		if err := o.x.Delete(store.StatsOfflineKey(cur.Customer, cur.Deadline, device)); err != nil {
			return err
		}
	}
	if next == nil {
		if cur == nil {
			return nil
		}
		return o.x.Delete(store.StatsOfflineOfKey(device))
	}
	b, err := json.Marshal(next)
	if err != nil {
		return err
	}
	if err := o.x.Put(store.StatsOfflineOfKey(device), b); err != nil {
		return err
	}
	return o.x.Put(store.StatsOfflineKey(next.Customer, next.Deadline, device), nil)
}
