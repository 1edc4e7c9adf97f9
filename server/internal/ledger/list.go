package ledger

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// LicenseFilter selects licenses; empty fields do not filter.
type LicenseFilter struct {
	CustomerID string // exactly this owner
	DeviceID   string
	Status     Status
	Type       string
	Billing    string
	// ExpiringWithin keeps licenses that will end without renewal within
	// this duration (day licenses: whose days and paid time run out by then).
	ExpiringWithin time.Duration
	// SerialPrefix keeps licenses whose serial starts with it.
	SerialPrefix string
	// Locked, when set, keeps licenses whose lock status equals it.
	Locked *bool
	// DaysMin and DaysMax, when set, keep day licenses whose available
	// days lie in [DaysMin, DaysMax]; other licenses are left out.
	DaysMin, DaysMax *int64
	// Description keeps licenses whose customer description, or the
	// distributor description where the actor may read it, contains it
	// (case-insensitive).
	Description string
	// ActivatedFrom and ActivatedTo keep licenses first activated in
	// [ActivatedFrom, ActivatedTo); never-activated licenses are left out.
	ActivatedFrom, ActivatedTo time.Time
	// EndsFrom and EndsTo keep licenses whose end lies in [EndsFrom,
	// EndsTo): a term license's current period end (a trial's end), a day
	// license's projected end (ProjectedEnd). Licenses without one are
	// left out.
	EndsFrom, EndsTo time.Time
	// Cursor is the NextCursor of the previous page.
	Cursor string
	Limit  int
}

// PageLimit clamps a requested page size.
func PageLimit(n int) int {
	switch {
	case n <= 0:
		return DefaultPageSize
	case n > MaxPageSize:
		return MaxPageSize
	}
	return n
}

// ListLicenses returns one page of the licenses the actor sees that match f,
// in index order, and the cursor of the next page ("" at the end).
func (lg *Ledger) ListLicenses(ctx context.Context, a Actor, f LicenseFilter) ([]LicenseView, string, error) {
	limit := PageLimit(f.Limit)
	out := make([]LicenseView, 0, min(limit, 64))
	var next string
	err := lg.view(func(o *op) error {
		prefixes, err := o.licenseSources(a, f)
		if err != nil {
			return err
		}
		cursor := []byte(f.Cursor)
		for _, p := range prefixes {
			var after []byte
			switch {
			case len(cursor) == 0:
			case bytes.HasPrefix(cursor, p):
				after = cursor
			case bytes.Compare(p, cursor) < 0:
				continue // a source wholly before the cursor
			}
			err := o.x.Scan(p, after, true, func(k, v []byte) (bool, error) {
				if sk, ok := skeleton(v); ok && !f.prefilter(&sk, o.now) {
					return true, nil // decided on the index entry alone
				}
				var l License
				if err := o.x.GetJSON(store.LicenseKey(store.LastPart(k)), &l); err != nil {
					return false, err
				}
				if !f.matches(&l, o.now) || !f.matchesStored(&l, o.now) || !o.describedAs(a, &l, f.Description) {
					return true, nil
				}
				if len(out) == limit {
					next = string(cursorOf(prefixes, out[len(out)-1].ID, out[len(out)-1].CustomerID, f))
					return false, nil
				}
				out = append(out, o.licenseView(a, &l))
				return true, nil
			})
			if err != nil || next != "" {
				return err
			}
		}
		return nil
	})
	return out, next, err
}

// cursorOf is the index key of the last license of a page.
func cursorOf(_ [][]byte, id, customerID string, f LicenseFilter) []byte {
	if f.DeviceID != "" {
		return store.LicenseByDeviceKey(f.DeviceID, id)
	}
	return store.LicenseByCustomerKey(customerID, id)
}

// licenseSources returns the index prefixes to scan, in key order.
func (o *op) licenseSources(a Actor, f LicenseFilter) ([][]byte, error) {
	if f.DeviceID != "" {
		if _, err := o.visibleDevice(a, f.DeviceID); err != nil {
			return nil, err
		}
		return [][]byte{store.LicenseByDevicePrefix(f.DeviceID)}, nil
	}
	if f.CustomerID != "" {
		if _, err := o.visibleCustomer(a, f.CustomerID); err != nil {
			return nil, err
		}
		return [][]byte{store.LicenseByCustomerPrefix(f.CustomerID)}, nil
	}
	ids, err := o.subtree(a.CustomerID)
	if err != nil {
		return nil, err
	}
	out := make([][]byte, len(ids))
	for i, id := range ids {
		out[i] = store.LicenseByCustomerPrefix(id)
	}
	slices.SortFunc(out, bytes.Compare)
	return out, nil
}

// prefilter applies the filters a summary skeleton can decide.
func (f *LicenseFilter) prefilter(sk *License, now time.Time) bool {
	g := *f
	g.CustomerID = ""
	return g.matches(sk, now)
}

func (f *LicenseFilter) matches(l *License, now time.Time) bool {
	if f.CustomerID != "" && l.CustomerID != f.CustomerID {
		return false
	}
	if f.Type != "" && l.Type != f.Type {
		return false
	}
	if f.Billing != "" && l.Billing != f.Billing {
		return false
	}
	if f.Status != "" && l.Status(now) != f.Status {
		return false
	}
	if f.ExpiringWithin > 0 && !l.endsWithin(now, f.ExpiringWithin) {
		return false
	}
	return true
}

// matchesStored applies the filters that need the stored license rather
// than its index skeleton.
func (f *LicenseFilter) matchesStored(l *License, now time.Time) bool {
	if f.SerialPrefix != "" && !strings.HasPrefix(l.Serial, f.SerialPrefix) {
		return false
	}
	if f.Locked != nil && l.Locked != *f.Locked {
		return false
	}
	if f.DaysMin != nil || f.DaysMax != nil {
		if l.Billing != token.BillingDays {
			return false
		}
		if f.DaysMin != nil && l.AvailableDays < *f.DaysMin {
			return false
		}
		if f.DaysMax != nil && l.AvailableDays > *f.DaysMax {
			return false
		}
	}
	if !f.ActivatedFrom.IsZero() || !f.ActivatedTo.IsZero() {
		if l.ActivatedAt.IsZero() || !within(l.ActivatedAt, f.ActivatedFrom, f.ActivatedTo) {
			return false
		}
	}
	if !f.EndsFrom.IsZero() || !f.EndsTo.IsZero() {
		end, ok := l.ProjectedEnd(now)
		if !ok || !within(end, f.EndsFrom, f.EndsTo) {
			return false
		}
	}
	return true
}

// within reports whether t lies in [from, to); a zero bound is open.
func within(t, from, to time.Time) bool {
	return (from.IsZero() || !t.Before(from)) && (to.IsZero() || t.Before(to))
}

// describedAs reports whether l's descriptions that a may read contain
// text, case-insensitively (always true for empty text). The distributor
// description counts only for the issuing chain and the vendor: a customer
// below must not learn it by guessing at it.
func (o *op) describedAs(a Actor, l *License, text string) bool {
	if text == "" {
		return true
	}
	if containsFold(l.CustomerDescription, text) {
		return true
	}
	return l.DistributorDescription != "" && containsFold(l.DistributorDescription, text) &&
		o.readsDescription(a, l.DescribedBy, l.CustomerID)
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

// ProjectedEnd is when l stops being usable without a renewal or a top-up:
// a term or trial license's (current period) end, a day license's paid
// time and then its available days, counted from now. ok is false for a
// license that has no end yet (a capacity license not started) or will
// never be usable again.
func (l *License) ProjectedEnd(now time.Time) (time.Time, bool) {
	switch l.Status(now) {
	case StatusExpired, StatusRevoked, StatusTransferred:
		return time.Time{}, false
	}
	if l.Billing == token.BillingDays {
		from := now
		if l.PaidUntil.After(now) {
			from = l.PaidUntil
		}
		return from.Add(time.Duration(l.AvailableDays) * Day), true
	}
	return l.End, !l.End.IsZero()
}

// endsWithin reports whether l is still usable but will end by now+d
// without a renewal: term and trial licenses by their end, day licenses by
// their remaining days and paid time.
func (l *License) endsWithin(now time.Time, d time.Duration) bool {
	switch l.Status(now) {
	case StatusExpired, StatusRevoked, StatusTransferred, StatusPendingStart:
		return false
	}
	if l.Billing == token.BillingDays {
		end, _ := l.ProjectedEnd(now)
		return !end.After(now.Add(d))
	}
	if l.End.IsZero() || l.renewsAt(l.End) {
		return false
	}
	return !l.End.After(now.Add(d))
}
