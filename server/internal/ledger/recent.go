package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/store"
)

// Recent deductions and notices of the actor's subtree, newest first, for
// the console's dashboard. Neither reads a whole table: deductions come from
// the audit log's per-customer index (every charged day writes a
// "license.deduct" entry under the license's owner and its ancestors), and
// notices from the event log's time index (every new notice emits an
// event). Each read is bounded by MaxRecentScanned entries, and each record
// is shown only if the per-license call (ListDeductions, ListNotices,
// ListCustomerNotices) would show it to the actor now.

// Bounds of the recent lists.
const (
	// MaxRecent is the most records one recent list returns.
	MaxRecent = 100
	// MaxRecentScanned is the most index entries one recent list reads:
	// when they hold fewer matching records, the list is short.
	MaxRecentScanned = 2000
)

// auditDeduct is the audit action of a charged day (charge).
const auditDeduct = "license.deduct"

// RecentDeduction is one day a license paid, as the audit log recorded it.
type RecentDeduction struct {
	// At is when the ledger charged the day (server time).
	At         time.Time `json:"at"`
	LicenseID  string    `json:"license_id"`
	Serial     string    `json:"serial"`
	CustomerID string    `json:"customer_id"`
	DeviceID   string    `json:"device_id"`
	DaysBefore int64     `json:"days_before"`
	DaysAfter  int64     `json:"days_after"`
	PaidUntil  time.Time `json:"paid_until"`
}

// recentLimit is limit within 1..MaxRecent (0 or less: 10).
func recentLimit(limit int) int {
	switch {
	case limit <= 0:
		return 10
	case limit > MaxRecent:
		return MaxRecent
	}
	return limit
}

// RecentDeductions returns the latest days charged to licenses the actor
// sees, newest first, at most limit (1..MaxRecent).
func (lg *Ledger) RecentDeductions(ctx context.Context, a Actor, limit int) ([]RecentDeduction, error) {
	limit = recentLimit(limit)
	out := []RecentDeduction{}
	err := lg.view(func(o *op) error {
		viewer := a.CustomerID
		if a.system {
			viewer = o.lg.RootID()
		}
		scanned := 0
		return o.x.Reverse(store.AuditByCustomerPrefix(viewer), nil, func(k, _ []byte) (bool, error) {
			if len(out) == limit || scanned == MaxRecentScanned {
				return false, nil
			}
			scanned++
			seq, err := strconv.ParseInt(store.LastPart(k), 10, 64)
			if err != nil {
				return false, store.ErrCorrupt
			}
			var e AuditEntry
			if err := o.x.GetJSON(store.AuditKey(seq), &e); err != nil {
				return false, err
			}
			if e.Action != auditDeduct {
				return true, nil
			}
			l, _, err := o.visibleLicense(a, e.ObjectID)
			if errors.Is(err, ErrNotFound) { // moved out of sight since: ListDeductions refuses it too
				return true, nil
			}
			if err != nil {
				return false, err
			}
			var before, after License
			if err := jsonUnmarshal(e.Before, &before); err != nil {
				return false, err
			}
			if err := jsonUnmarshal(e.After, &after); err != nil {
				return false, err
			}
			out = append(out, RecentDeduction{At: e.At, LicenseID: l.ID, Serial: l.Serial, CustomerID: e.CustomerID,
				DeviceID: after.DeviceID, DaysBefore: before.AvailableDays, DaysAfter: after.AvailableDays, PaidUntil: after.PaidUntil})
			return true, nil
		})
	})
	return out, err
}

// noticeRef is what a notice's event data names.
type noticeRef struct {
	NoticeID string `json:"notice_id"`
}

// RecentNotices returns the latest notices the actor sees (about its
// subtree's licenses and customers), newest first, at most limit
// (1..MaxRecent). Recipient addresses the actor may not see are left out,
// as ListNotices does.
func (lg *Ledger) RecentNotices(ctx context.Context, a Actor, limit int) ([]Notice, error) {
	limit = recentLimit(limit)
	out := []Notice{}
	err := lg.view(func(o *op) error {
		p := store.EventAtPrefix()
		scanned := 0
		return o.x.Reverse(p, nil, func(k, _ []byte) (bool, error) {
			if len(out) == limit || scanned == MaxRecentScanned {
				return false, nil
			}
			scanned++
			_, id, ok := store.TimedParts(p, k)
			if !ok {
				return false, store.ErrCorrupt
			}
			var ev Event
			if err := o.x.GetJSON(store.EventKey(id), &ev); err != nil {
				return false, err
			}
			var ref noticeRef
			if len(ev.Data) == 0 || json.Unmarshal(ev.Data, &ref) != nil || ref.NoticeID == "" {
				return true, nil // an event about no notice
			}
			var n Notice
			err := o.x.GetJSON(store.NoticeKey(ref.NoticeID), &n)
			if errors.Is(err, store.ErrNotFound) {
				return true, nil // pruned with its license's records
			}
			if err != nil {
				return false, err
			}
			if n.LicenseID != "" {
				_, _, err = o.visibleLicense(a, n.LicenseID)
			} else {
				_, err = o.visibleCustomer(a, n.CustomerID)
			}
			if errors.Is(err, ErrNotFound) {
				return true, nil
			}
			if err != nil {
				return false, err
			}
			if n.LicenseID != "" {
				o.redactRecipients(a, &n)
			}
			out = append(out, n)
			return true, nil
		})
	})
	return out, err
}
