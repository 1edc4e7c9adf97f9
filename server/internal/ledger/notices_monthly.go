package ledger

import (
	"context"
	"errors"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/store"
)

// NoticeMonthlyReport is the e-mail of a customer's consumption report of
// the month before, sent from the 1st: to every customer with a report
// e-mail, for its own subtree (a distributor's covers its customers).
const NoticeMonthlyReport = "report_monthly"

// monthlyState is how far the monthly reports of one month have gone.
type monthlyState struct {
	After string `json:"after"` // the last customer given its report
	Done  bool   `json:"done"`
}

// issueMonthlyReports writes, from the first of a month, the report
// notices of the month before for every customer with a report e-mail, a
// batch of customers per transaction, continuing where it stopped.
func (lg *Ledger) issueMonthlyReports() (int, error) {
	total := 0
	for range noticeMaxBatches {
		issued, done, err := lg.issueMonthlyBatch()
		total += issued
		if err != nil || done {
			return total, err
		}
	}
	return total, nil
}

func (lg *Ledger) issueMonthlyBatch() (issued int, done bool, err error) {
	err = lg.update(func(o *op) error {
		issued, done = 0, false
		cur, _ := MonthBounds(o.now)
		prev := cur.AddDate(0, -1, 0)
		k := store.MonthlyReportsKey(prev.Format(monthLayout))
		var st monthlyState
		if err := o.x.GetJSON(k, &st); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if st.Done {
			done = true
			return nil
		}
		var after []byte
		if st.After != "" {
			after = store.CustomerKey(st.After)
		}
		var cs []Customer
		err := o.x.Scan(store.CustomerAll(), after, true, func(_, v []byte) (bool, error) {
			if len(cs) == noticeBatch {
				return false, nil
			}
			var c Customer
			if err := jsonUnmarshal(v, &c); err != nil {
				return false, err
			}
			cs = append(cs, c)
			return true, nil
		})
		if err != nil {
			return err
		}
		for i := range cs {
			c := &cs[i]
			st.After = c.ID
			if !c.CreatedAt.Before(cur) { // created after the month
				continue
			}
			n := &Notice{ID: noticeID("customer:"+c.ID, NoticeMonthlyReport, prev), CustomerID: c.ID,
				Kind: NoticeMonthlyReport, End: prev, DueAt: cur, IssuedAt: o.now}
			written, err := o.putNotice(n)
			if err != nil {
				return err
			}
			if written {
				issued++
				if err := o.emitMonthly(n); err != nil {
					return err
				}
			}
		}
		st.Done = len(cs) < noticeBatch
		done = st.Done
		return o.x.PutJSON(k, &st)
	})
	return issued, done, err
}

// monthLayout is how a month is written in keys and subjects.
const monthLayout = "2006-01"

// ListCustomerNotices returns the notices of a customer the actor sees
// that are about no one license (its monthly reports, its devices' failed
// days), oldest first.
func (lg *Ledger) ListCustomerNotices(ctx context.Context, a Actor, customerID string) ([]Notice, error) {
	var out []Notice
	err := lg.view(func(o *op) error {
		c, err := o.visibleCustomer(a, customerID)
		if err != nil {
			return err
		}
		return o.x.Scan(store.NoticeByCustomerPrefix(c.ID), nil, true, func(_, v []byte) (bool, error) {
			var n Notice
			if err := o.x.GetJSON(store.NoticeKey(string(v)), &n); err != nil {
				return false, err
			}
			out = append(out, n)
			return len(out) < MaxNoticesListed, nil
		})
	})
	return out, err
}

// Month is the month a monthly report notice covers.
func (n *Notice) Month() time.Time { return n.End }
