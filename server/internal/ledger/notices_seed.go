package ledger

import (
	"github.com/tollgate-iot/tollgate/server/internal/store"
)

// seedNotices schedules the notices of every license of a store older
// than notices, in batches, once. Stages already past when the server
// first runs with notices are counted as done rather than sent late: an
// upgrade must not mail every customer about ends long gone.
func (lg *Ledger) seedNotices() error {
	return lg.eachLicenseOnce(store.NoticesSeededKey(), (*op).seedNotice)
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
