package ledger

import (
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/store"
)

// seedNotices schedules the notices of every license of a store older
// than notices, in batches, once. Stages already past when the server
// first runs with notices are counted as done rather than sent late: an
// upgrade must not mail every customer about ends long gone.
func (lg *Ledger) seedNotices() error {
	var after []byte
	for {
		done := false
		err := lg.db.Update(func(x *store.Txn) error {
			if ok, err := x.Has(store.NoticesSeededKey()); err != nil || ok {
				done = ok
				return err
			}
			o := lg.newOp(x)
			var ls []License
			err := x.Scan(store.LicenseAll(), after, true, func(k, v []byte) (bool, error) {
				if len(ls) == seedBatch {
					return false, nil
				}
				var l License
				if err := jsonUnmarshal(v, &l); err != nil {
					return false, err
				}
				after = append(after[:0], k...)
				ls = append(ls, l)
				return true, nil
			})
			if err != nil {
				return err
			}
			for i := range ls {
				if err := o.seedNotice(&ls[i]); err != nil {
					return err
				}
			}
			if len(ls) < seedBatch {
				done = true
				return x.Put(store.NoticesSeededKey(), []byte(o.now.Format(time.RFC3339)))
			}
			return nil
		})
		if err != nil || done {
			return err
		}
	}
}

func (o *op) seedNotice(l *License) error {
	end, stages := l.noticeEnd(o.now)
	if end.IsZero() || !l.NoticeDue.IsZero() {
		return nil
	}
	before := *l
	i := 0
	for i < len(stages) && !end.Add(stages[i].offset).After(o.now) {
		i++
	}
	l.NoticeEnd, l.NoticeStage = end, i
	o.planNotice(l)
	if l.NoticeDue.IsZero() && before.NoticeStage == i && before.NoticeEnd.Equal(end) {
		return nil
	}
	if err := o.x.PutJSON(store.LicenseKey(l.ID), l); err != nil {
		return err
	}
	return o.indexNotice(&before, l)
}
