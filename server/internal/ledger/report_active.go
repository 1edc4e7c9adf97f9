package ledger

import (
	"context"
	"slices"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/store"
)

// ActiveRow is a license that was active on the day of the report, as it
// was that day: its owner and device then.
type ActiveRow struct {
	LicenseID  string
	Serial     string
	CustomerID string
	// Chain is the owner that day, its parent and so on up to the
	// reseller of the report.
	Chain                  []string
	Type, Billing          string
	DeviceID               string
	DistributorDescription string
}

// ActiveQuery selects the licenses active at any time on Day (its first
// instant, UTC) whose owner then was Reseller or below it (empty: the
// actor's own customer).
type ActiveQuery struct {
	Reseller string
	Day      time.Time
	Cursor   string
	Limit    int
}

// ReportActive lists, by license id a page at a time, the licenses of the
// query. It reads the licenses the reseller's subtree ever owned (an index
// written with the history) and replays each one's history over the day.
func (lg *Ledger) ReportActive(ctx context.Context, a Actor, q ActiveQuery) ([]ActiveRow, string, error) {
	limit := PageLimit(q.Limit)
	var out []ActiveRow
	var next string
	err := lg.view(func(o *op) error {
		top, err := o.reportCustomer(a, q.Reseller)
		if err != nil {
			return err
		}
		var after []byte
		if q.Cursor != "" {
			if !isUUID(q.Cursor) {
				return invalid("cursor %q is not one this server issued", q.Cursor)
			}
			after = store.OwnedKey(top.ID, q.Cursor)
		}
		from, to := q.Day, q.Day.Add(Day)
		var last string
		return o.x.Scan(store.OwnedPrefix(top.ID), after, false, func(k, _ []byte) (bool, error) {
			if len(out) == limit {
				next = last
				return false, nil
			}
			id := store.LastPart(k)
			last = id
			es, err := o.historyOf(id)
			if err != nil {
				return false, err
			}
			st, ok := activeDuring(es, from, to)
			if !ok {
				return true, nil
			}
			owner, err := o.customer(st.CustomerID)
			if err != nil {
				return false, err
			}
			if owner.ID != top.ID && !slices.Contains(owner.Path, top.ID) {
				return true, nil // active that day, but owned outside the subtree then
			}
			row, err := o.activeRow(a, top, id, st)
			if err != nil {
				return false, err
			}
			out = append(out, row)
			return true, nil
		})
	})
	return out, next, err
}

// activeDuring replays a license's history (oldest first) over [from, to):
// it reports whether the license was active at some instant of it, and its
// state at the last such instant. Between two entries a license changes
// only with time, and time only ends activity (a term or paid days run
// out), so the start of each stretch inside the window decides it.
func activeDuring(es []HistoryEntry, from, to time.Time) (HistoryState, bool) {
	var found HistoryState
	ok := false
	for i, e := range es {
		if !e.At.Before(to) {
			break
		}
		if i+1 < len(es) && !es[i+1].At.After(from) {
			continue // superseded before the window opened
		}
		t := e.At
		if t.Before(from) {
			t = from
		}
		if e.State.Status(t) == StatusActive {
			found, ok = e.State, true
		}
	}
	return found, ok
}

func (o *op) activeRow(a Actor, top *Customer, id string, st HistoryState) (ActiveRow, error) {
	chain, err := o.chain(st.CustomerID, top.ID)
	if err != nil {
		return ActiveRow{}, err
	}
	row := ActiveRow{LicenseID: id, CustomerID: st.CustomerID, Chain: chain, Type: st.Type, Billing: st.Billing, DeviceID: st.DeviceID}
	if l, err := o.license(id); err == nil {
		row.Serial = l.Serial
		if o.readsDescription(a, l.DescribedBy, l.CustomerID) {
			row.DistributorDescription = l.DistributorDescription
		}
	}
	return row, nil
}
