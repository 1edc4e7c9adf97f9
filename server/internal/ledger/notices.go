package ledger

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// The kinds of notice a license gets before and after its end.
const (
	NoticeExpiring30 = "expiring_30d"
	NoticeExpiring15 = "expiring_15d"
	NoticeExpiring7  = "expiring_7d"
	NoticeExpiring1  = "expiring_1d"
	// NoticeEnded is sent on the end day: the license stops working.
	NoticeEnded = "ended"
	// NoticeReminder is sent a day after the end: renew to go on.
	NoticeReminder = "renewal_reminder"
	// NoticeDays30 and NoticeDays7 warn that a day license in use will
	// run out of paid time and days within 30 and 7 days.
	NoticeDays30 = "days_30d"
	NoticeDays7  = "days_7d"
)

// noticeStage is one notice of a schedule: its kind and when it is due,
// relative to the end it warns of.
type noticeStage struct {
	kind   string
	offset time.Duration
}

// The schedules: a license that will end (renew off, a trial, a
// cancelled subscription) gets six notices, a day license in use two.
var (
	endStages = []noticeStage{{NoticeExpiring30, -30 * Day}, {NoticeExpiring15, -15 * Day}, {NoticeExpiring7, -7 * Day},
		{NoticeExpiring1, -Day}, {NoticeEnded, 0}, {NoticeReminder, Day}}
	dayStages = []noticeStage{{NoticeDays30, -30 * Day}, {NoticeDays7, -7 * Day}}
)

// noticeBatch bounds the licenses one transaction of IssueNotices looks
// at, so that a backlog (a server down for days) does not hold the write
// lock long; noticeMaxBatches bounds one call, the next continues.
const (
	noticeBatch      = 200
	noticeMaxBatches = 100
)

// Notice is one notice about a license: written once, in the transaction
// that decides it is due, under an id derived from what it is about (the
// license, the kind and the end it warns of), so it can never be written
// twice. A renewal or top-up that moves the end makes new notices; those
// of the old end not yet sent are void.
type Notice struct {
	ID         string    `json:"id"`
	LicenseID  string    `json:"license_id"`
	Serial     string    `json:"serial"`
	CustomerID string    `json:"customer_id"` // the owner when issued
	DeviceID   string    `json:"device_id,omitempty"`
	Kind       string    `json:"kind"`
	End        time.Time `json:"end"`
	DueAt      time.Time `json:"due_at"`
	IssuedAt   time.Time `json:"issued_at"`
	// Collapsed names earlier notices of the same end that fell due while
	// the server was down: only the latest is sent.
	Collapsed []string `json:"collapsed,omitempty"`
	// Subject is what a notice about no license or device is about (the
	// URL of a disabled webhook endpoint).
	Subject string `json:"subject,omitempty"`
	Email   Email  `json:"email"`
}

// noticeID is the id of the notice of kind about license's end.
func noticeID(license, kind string, end time.Time) string {
	h := sha256.Sum256([]byte(license + "\x00" + kind + "\x00" + end.UTC().Format(time.RFC3339)))
	return "ntc_" + hex.EncodeToString(h[:12])
}

// noticeEnd is the end l's notices warn of now and their schedule; a zero
// end means l gets none: a term license that renews, a trial or capacity
// license not started, a revoked or transferred one, a day license never
// charged.
func (l *License) noticeEnd(now time.Time) (time.Time, []noticeStage) {
	if l.terminal() {
		return time.Time{}, nil
	}
	if l.Billing == token.BillingDays {
		// In use: bound and charged at least once. The end is where its
		// paid time and days lead while the device is charged a day every
		// 24 hours; it stays put while the device pauses (or reports late),
		// so a paused device is not warned again and again.
		if l.DeviceID == "" || l.PaidUntil.IsZero() {
			return time.Time{}, nil
		}
		return l.PaidUntil.Add(time.Duration(l.AvailableDays) * Day), dayStages
	}
	if l.End.IsZero() || l.renewsAt(l.End) {
		return time.Time{}, nil
	}
	return l.End, endStages
}

// nextNotice is when l's next notice falls due (zero: none). NoticeEnd
// and NoticeStage record how far the schedule of that end has gone.
func (l *License) nextNotice(now time.Time) time.Time {
	end, stages := l.noticeEnd(now)
	if end.IsZero() {
		return time.Time{}
	}
	i := 0
	if l.NoticeEnd.Equal(end) {
		i = l.NoticeStage
	}
	if i >= len(stages) {
		return time.Time{}
	}
	return end.Add(stages[i].offset)
}

// planNotice sets l.NoticeDue before l is written; indexNotice keeps the
// notice index in step with it.
func (o *op) planNotice(l *License) {
	l.NoticeDue = l.nextNotice(o.now)
}

func (o *op) indexNotice(before, l *License) error {
	if before != nil && !before.NoticeDue.IsZero() && !before.NoticeDue.Equal(l.NoticeDue) {
		if err := o.x.Delete(store.NoticeDueKey(before.NoticeDue.Unix(), l.ID)); err != nil {
			return err
		}
	}
	if l.NoticeDue.IsZero() || (before != nil && before.NoticeDue.Equal(l.NoticeDue)) {
		return nil
	}
	return o.x.Put(store.NoticeDueKey(l.NoticeDue.Unix(), l.ID), nil)
}

// IssueNotices writes the notices due now, in transactions of at most
// noticeBatch licenses and at most noticeMaxBatches of them, and returns
// how many it wrote; the scheduler calls it every pass. A license whose
// several notices fell due while the server was down gets the latest of
// them only, naming the others in Collapsed.
func (lg *Ledger) IssueNotices(ctx context.Context) (int, error) {
	total, err := lg.issueMonthlyReports()
	if err != nil {
		return total, err
	}
	if _, err := lg.emitDiscrepancies(ctx); err != nil {
		return total, err
	}
	for range noticeMaxBatches {
		issued, full, err := lg.issueNoticeBatch()
		total += issued
		if err != nil || !full {
			return total, err
		}
	}
	return total, nil
}

// issueNoticeBatch handles one batch of due licenses; full reports that
// the batch was full (more may be due).
func (lg *Ledger) issueNoticeBatch() (issued int, full bool, err error) {
	err = lg.update(func(o *op) error {
		issued, full = 0, false
		limit := store.NoticeDueKey(o.now.Unix()+1, "")
		var due []string
		err := o.x.Scan(store.NoticeDuePrefix(), nil, false, func(k, _ []byte) (bool, error) {
			if bytes.Compare(k, limit) >= 0 || len(due) == noticeBatch {
				return false, nil
			}
			due = append(due, store.LastPart(k))
			return true, nil
		})
		if err != nil {
			return err
		}
		full = len(due) == noticeBatch
		for _, id := range due {
			n, err := o.issueNotice(id)
			if err != nil {
				return err
			}
			issued += n
		}
		return nil
	})
	return issued, full, err
}

// issueNotice writes the notice of license id that is due now, if any,
// and moves the license's schedule on.
func (o *op) issueNotice(id string) (int, error) {
	l, err := o.license(id)
	if err != nil {
		return 0, err
	}
	before := *l
	end, stages := l.noticeEnd(o.now)
	i := 0
	if l.NoticeEnd.Equal(end) {
		i = l.NoticeStage
	}
	last := -1
	for j := i; j < len(stages) && !end.IsZero(); j++ {
		if !end.Add(stages[j].offset).After(o.now) {
			last = j
		}
	}
	if last < 0 { // the index was ahead of the license: re-plan only
		return 0, o.putLicense(&before, l)
	}
	n := &Notice{ID: noticeID(l.ID, stages[last].kind, end), LicenseID: l.ID, Serial: l.Serial, CustomerID: l.CustomerID,
		DeviceID: l.DeviceID, Kind: stages[last].kind, End: end, DueAt: end.Add(stages[last].offset), IssuedAt: o.now}
	for _, s := range stages[i:last] {
		n.Collapsed = append(n.Collapsed, s.kind)
	}
	written, err := o.putNotice(n)
	if err != nil {
		return 0, err
	}
	l.NoticeEnd, l.NoticeStage = end, last+1
	if err := o.putLicense(&before, l); err != nil {
		return 0, err
	}
	if !written {
		return 0, nil
	}
	return 1, o.emitNotice(n, l)
}

// putNotice stores n once (false if it exists), indexes it under its
// license and queues its e-mail.
func (o *op) putNotice(n *Notice) (bool, error) {
	if ok, err := o.x.Has(store.NoticeKey(n.ID)); err != nil || ok {
		return false, err
	}
	if err := o.addressNotice(n); err != nil {
		return false, err
	}
	seq, err := o.x.NextSeq("notice")
	if err != nil {
		return false, err
	}
	index := store.NoticeByLicenseKey(n.LicenseID, seq)
	if n.LicenseID == "" { // a monthly report, a device's failed day: the customer's
		index = store.NoticeByCustomerKey(n.CustomerID, seq)
	}
	if err := o.x.Put(index, []byte(n.ID)); err != nil {
		return false, err
	}
	if n.Email.State == EmailPending {
		if err := o.x.Put(store.EmailQueueKey(n.Email.NextAt.Unix(), n.ID), nil); err != nil {
			return false, err
		}
	}
	return true, o.x.PutJSON(store.NoticeKey(n.ID), n)
}

// ListNotices returns the notices of a license the actor sees, oldest
// first. Recipient addresses of customers the actor does not see (the
// distributor above it) are left out.
func (lg *Ledger) ListNotices(ctx context.Context, a Actor, idOrSerial string) ([]Notice, error) {
	var out []Notice
	err := lg.view(func(o *op) error {
		l, _, err := o.visibleLicense(a, idOrSerial)
		if err != nil {
			return err
		}
		return o.x.Scan(store.NoticeByLicensePrefix(l.ID), nil, true, func(_, v []byte) (bool, error) {
			var n Notice
			if err := o.x.GetJSON(store.NoticeKey(string(v)), &n); err != nil {
				return false, err
			}
			o.redactRecipients(a, &n)
			out = append(out, n)
			return len(out) < MaxNoticesListed, nil
		})
	})
	return out, err
}

// MaxNoticesListed bounds one license's notice list (a license gets at
// most six per end).
const MaxNoticesListed = 1000

func (o *op) redactRecipients(a Actor, n *Notice) {
	kept := n.Email.To[:0:0]
	for i, addr := range n.Email.To {
		if i < len(n.Email.ToCustomers) {
			if _, err := o.visibleCustomer(a, n.Email.ToCustomers[i]); err != nil {
				continue
			}
		}
		kept = append(kept, addr)
	}
	n.Email.To, n.Email.ToCustomers = kept, nil
}

// Summary is the one-line summary of a notice (the e-mail subject).
func (n *Notice) Summary() string { return noticeText(n) }

func noticeText(n *Notice) string {
	day := n.End.UTC().Format(time.DateOnly)
	var b strings.Builder
	b.WriteString("License " + n.Serial)
	switch n.Kind {
	case NoticeExpiring30, NoticeExpiring15, NoticeExpiring7, NoticeExpiring1:
		b.WriteString(" ends in " + strings.TrimSuffix(strings.TrimPrefix(n.Kind, "expiring_"), "d") + " days, on " + day)
	case NoticeEnded:
		b.WriteString(" ends today, " + day)
	case NoticeReminder:
		b.WriteString(" ended on " + day + ": renew it to go on")
	case NoticeDays30, NoticeDays7:
		b.WriteString(" runs out of days within " + strings.TrimSuffix(strings.TrimPrefix(n.Kind, "days_"), "d") + " days, on " + day)
	case NoticeMonthlyReport:
		return "Consumption report " + n.End.UTC().Format(monthLayout) + " for " + n.CustomerID
	case NoticeDeductionFailed:
		return "Device " + n.DeviceID + " could not pay the day of " + day + " and stopped sending"
	case NoticeWebhookDisabled:
		return "Webhook endpoint " + n.Subject + " was disabled: every delivery failed for days"
	}
	return b.String()
}
