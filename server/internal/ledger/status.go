package ledger

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate-iot/tollgate/shared/token"
)

// Status derives the license's status at now (docs/design.md#status). Final states win
// over reversible ones: transferred, revoked, expired, then suspended.
func (l *License) Status(now time.Time) Status {
	if l.TransferredTo == "" && !l.Revoked && l.expired(now) {
		return StatusExpired
	}
	return l.statusBeforeExpiry()
}

// expired reports whether the license has no time or days left at now.
func (l *License) expired(now time.Time) bool {
	switch {
	case l.Billing == token.BillingDays:
		return l.AvailableDays <= 0 && !now.Before(l.PaidUntil)
	case l.Type == token.TypeTrial:
		return !l.End.IsZero() && !now.Before(l.End)
	case l.End.IsZero(): // a capacity license whose term has not started
		return false
	default:
		return !now.Before(l.End) && !l.renewsAt(l.End)
	}
}

// waitingToStart reports a capacity license that has not reached its start
// condition yet: it counts no time, pays no day and has no token.
func (l *License) waitingToStart() bool {
	return l.StartAtChildren > 0 && l.ActivatedAt.IsZero()
}

// terminal reports a license that can never be used again, whatever the time.
func (l *License) terminal() bool { return l.Revoked || l.TransferredTo != "" }

// renewsAt reports whether a standard term license renews at the period end
// end: renew is on, or it was switched off too late (inside the
// cancellation period) to stop this renewal.
func (l *License) renewsAt(end time.Time) bool {
	if l.Type != token.TypeStandard || l.Billing != token.BillingTerm {
		return false
	}
	return l.Renew || (!l.NoRenewFrom.IsZero() && end.Before(l.NoRenewFrom))
}

// usable refuses a license that cannot be bound or used at now.
func (l *License) usable(now time.Time) error {
	switch l.Status(now) {
	case StatusTransferred:
		return fmt.Errorf("%w: %s", ErrTransferred, l.ID)
	case StatusRevoked:
		return fmt.Errorf("%w: %s", ErrRevoked, l.ID)
	case StatusExpired:
		return fmt.Errorf("%w: %s", ErrExpired, l.ID)
	case StatusSuspended:
		return fmt.Errorf("%w: %s", ErrSuspended, l.ID)
	}
	return nil
}

// TermStart is the first instant of the month after created, in UTC: a
// standard term license starts there, whatever day it was created.
func TermStart(created time.Time) time.Time {
	c := created.UTC()
	return time.Date(c.Year(), c.Month()+1, 1, 0, 0, 0, 0, time.UTC)
}

// ParseAlignment returns the first month of the year an alignment counts
// from (0 for anniversary).
func ParseAlignment(a string) (time.Month, error) {
	switch {
	case a == "" || a == AlignAnniversary:
		return 0, nil
	case a == AlignCalendarYear:
		return time.January, nil
	case strings.HasPrefix(a, AlignFiscalPrefix):
		mm := strings.TrimPrefix(a, AlignFiscalPrefix)
		m, err := strconv.Atoi(mm)
		if err != nil || len(mm) != 2 || m < 1 || m > 12 {
			return 0, fmt.Errorf("%w: alignment %q: fiscal_year:MM needs a month 01..12", ErrInvalid, a)
		}
		return time.Month(m), nil
	}
	return 0, fmt.Errorf("%w: alignment %q: want anniversary, calendar_year or fiscal_year:MM", ErrInvalid, a)
}

// PeriodEnd returns the end of a term period that starts at start and runs
// months. Anniversary: exactly months later. Aligned to a (fiscal) year: the
// year boundary nearest to that anniversary (a tie goes to the later one),
// never at or before start; the first period is thereby pro-rated and every
// later renewal of a 12-month multiple stays on the boundary.
func PeriodEnd(start time.Time, months int, alignment string) time.Time {
	anniv := start.AddDate(0, months, 0)
	m, err := ParseAlignment(alignment)
	if err != nil || m == 0 {
		return anniv
	}
	before := time.Date(anniv.Year(), m, 1, 0, 0, 0, 0, time.UTC)
	if before.After(anniv) {
		before = before.AddDate(-1, 0, 0)
	}
	after := before.AddDate(1, 0, 0)
	if before.Equal(anniv) {
		return anniv
	}
	end := after
	if anniv.Sub(before) < after.Sub(anniv) {
		end = before
	}
	if !end.After(start) {
		end = after
	}
	return end
}
