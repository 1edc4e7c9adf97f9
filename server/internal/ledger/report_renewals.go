package ledger

import (
	"context"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/store"
)

// MaxReportDays bounds the period of one renewal report.
const MaxReportDays = 3660

// ParseDay reads a YYYY-MM-DD date as the first instant of that day, UTC.
func ParseDay(name, s string) (time.Time, error) {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, invalid("%s %q: want a date YYYY-MM-DD", name, s)
	}
	return d.UTC(), nil
}

// RenewalRow is one renewal of a standard term license: the period it
// entered and the customer that owned it then.
type RenewalRow struct {
	LicenseID  string
	Serial     string
	CustomerID string
	// Chain is the owner, its parent and so on up to the customer the
	// report is for.
	Chain                  []string
	Months                 int
	PeriodStart, PeriodEnd time.Time
	// RecordedAt is when the ledger applied the renewal (the scheduler may
	// run after the period started).
	RecordedAt             time.Time
	DistributorDescription string
}

// RenewalQuery selects renewals whose new period started in [From, To),
// of licenses owned then by Customer or below it (empty: the actor's own
// customer).
type RenewalQuery struct {
	From, To time.Time
	Customer string
	Cursor   string
	Limit    int
}

// ReportRenewals lists the renewals of the query from the renewal index,
// in order of period start, a page at a time.
func (lg *Ledger) ReportRenewals(ctx context.Context, a Actor, q RenewalQuery) ([]RenewalRow, string, error) {
	if !q.To.After(q.From) || q.To.Sub(q.From) > MaxReportDays*Day {
		return nil, "", invalid("to must be after from, at most %d days later", MaxReportDays)
	}
	limit := PageLimit(q.Limit)
	var out []RenewalRow
	var next string
	err := lg.view(func(o *op) error {
		top, err := o.reportCustomer(a, q.Customer)
		if err != nil {
			return err
		}
		p := store.RenewalPrefix(top.ID)
		after := store.RenewalFrom(top.ID, q.From.Unix())
		after = after[:len(after)-1] // every key of that second or later
		if q.Cursor != "" {
			k := append(append([]byte{}, p...), q.Cursor...)
			if start, _, _, ok := store.RenewalParts(k); !ok || start < q.From.Unix() {
				return invalid("cursor %q is not one this server issued", q.Cursor)
			}
			after = k
		}
		end := q.To.Unix()
		var last string
		return o.x.Scan(p, after, false, func(k, _ []byte) (bool, error) {
			start, id, seq, ok := store.RenewalParts(k)
			if !ok {
				return false, store.ErrCorrupt
			}
			if start >= end {
				return false, nil
			}
			if len(out) == limit {
				next = last
				return false, nil
			}
			row, ok, err := o.renewalRow(a, top, id, seq)
			if err != nil {
				return false, err
			}
			if ok {
				out = append(out, row)
			}
			last = string(k[len(p):])
			return true, nil
		})
	})
	return out, next, err
}

// reportCustomer is the customer a report is for: id if the actor sees
// it, else not found; the actor's own customer (the vendor for the
// system) when id is empty.
func (o *op) reportCustomer(a Actor, id string) (*Customer, error) {
	if id == "" {
		id = a.CustomerID
		if a.system {
			id = o.lg.RootID()
		}
	}
	return o.visibleCustomer(a, id)
}

// renewalRow reads one indexed renewal; ok is false for a license since
// deleted (a never-activated one, which nobody is billed for).
func (o *op) renewalRow(a Actor, top *Customer, id string, seq int64) (RenewalRow, bool, error) {
	var e HistoryEntry
	if err := o.x.GetJSON(store.LicenseHistoryKey(id, seq), &e); err != nil {
		return RenewalRow{}, false, err
	}
	l, err := o.license(id)
	if err != nil {
		return RenewalRow{}, false, nil
	}
	chain, err := o.chain(e.State.CustomerID, top.ID)
	if err != nil {
		return RenewalRow{}, false, err
	}
	row := RenewalRow{LicenseID: l.ID, Serial: l.Serial, CustomerID: e.State.CustomerID, Chain: chain,
		Months: l.DurationMonths, PeriodStart: e.PeriodStart, PeriodEnd: e.PeriodEnd, RecordedAt: e.At}
	if o.readsDescription(a, l.DescribedBy, l.CustomerID) {
		row.DistributorDescription = l.DistributorDescription
	}
	return row, true, nil
}

// chain lists owner, its parent and so on up to top (owner is top or
// below it).
func (o *op) chain(owner, top string) ([]string, error) {
	c, err := o.customer(owner)
	if err != nil {
		return nil, err
	}
	out := []string{c.ID}
	for i := len(c.Path) - 1; i >= 0 && c.ID != top; i-- {
		out = append(out, c.Path[i])
		if c.Path[i] == top {
			break
		}
	}
	return out, nil
}
