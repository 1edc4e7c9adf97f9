package ledger

import (
	"bytes"
	"context"
	"math/rand/v2"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/store"
)

// The states of a notice's e-mail.
const (
	EmailPending = "pending" // queued; sent at NextAt
	EmailSent    = "sent"
	// EmailFailed: refused for good, or not accepted within EmailRetryFor.
	EmailFailed = "failed"
	// EmailVoid: the end it warned of moved (a renewal, a top-up) before it
	// was sent; the new end has its own notices.
	EmailVoid = "void"
	// EmailUndelivered: the server has no SMTP setting; the notice stays
	// visible on the license.
	EmailUndelivered = "undelivered"
	// EmailNoRecipient: neither the owner nor the customer above it has a
	// report e-mail.
	EmailNoRecipient = "no_recipient"
)

// Bounds of e-mail delivery.
const (
	// EmailRetryFor is how long a notice's e-mail is retried after it was
	// issued before it is failed.
	EmailRetryFor = 3 * 24 * time.Hour
	// EmailLease is how long a claimed e-mail is held for its sender: a
	// sender that dies mid-send leaves it to be claimed again after it.
	EmailLease = 5 * time.Minute
	// emailBackoffBase and emailBackoffMax shape the retries: 1, 2, 4 …
	// minutes, at most 6 hours apart, each ±20 %.
	emailBackoffBase = time.Minute
	emailBackoffMax  = 6 * time.Hour
	// maxEmailError bounds the error text kept with a notice.
	maxEmailError = 300
)

// Email is the e-mail of one notice.
type Email struct {
	State string   `json:"state"`
	To    []string `json:"to,omitempty"`
	// ToCustomers are the customers whose report e-mail each To is, so a
	// reader sees only the addresses of customers it sees.
	ToCustomers []string  `json:"to_customers,omitempty"`
	Attempts    int       `json:"attempts,omitempty"`
	LastError   string    `json:"last_error,omitempty"`
	NextAt      time.Time `json:"next_at,omitzero"`
	SentAt      time.Time `json:"sent_at,omitzero"`
}

// addressNotice decides n's e-mail: to the report e-mail of the owner and
// of the customer above it.
func (o *op) addressNotice(n *Notice) error {
	if !o.lg.mail {
		n.Email.State = EmailUndelivered
		return nil
	}
	owner, err := o.customer(n.CustomerID)
	if err != nil {
		return err
	}
	ids := []string{owner.ID}
	if owner.ParentID != "" && n.Kind != NoticeMonthlyReport { // a report goes to its own customer
		ids = append(ids, owner.ParentID)
	}
	for _, id := range ids {
		c, err := o.customer(id)
		if err != nil {
			return err
		}
		if c.Email == "" || containsString(n.Email.To, c.Email) {
			continue
		}
		n.Email.To = append(n.Email.To, c.Email)
		n.Email.ToCustomers = append(n.Email.ToCustomers, c.ID)
	}
	if len(n.Email.To) == 0 {
		n.Email.State = EmailNoRecipient
		return nil
	}
	n.Email.State, n.Email.NextAt = EmailPending, o.now
	return nil
}

func containsString(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// EmailJob is one notice e-mail to send.
type EmailJob struct {
	Notice Notice
}

// ClaimEmails returns up to limit notice e-mails due now and holds each
// for EmailLease, so that a sender that dies mid-send leaves them to be
// claimed again (sending is at least once, always with the notice's id).
// A warning whose end has moved since is voided, not returned.
func (lg *Ledger) ClaimEmails(ctx context.Context, limit int) ([]EmailJob, error) {
	var out []EmailJob
	err := lg.update(func(o *op) error {
		out = out[:0]
		end := store.EmailQueueKey(o.now.Unix()+1, "")
		var ids []string
		err := o.x.Scan(store.EmailQueuePrefix(), nil, false, func(k, _ []byte) (bool, error) {
			if bytes.Compare(k, end) >= 0 || len(ids) == limit {
				return false, nil
			}
			ids = append(ids, store.LastPart(k))
			return true, nil
		})
		if err != nil {
			return err
		}
		for _, id := range ids {
			var n Notice
			if err := o.x.GetJSON(store.NoticeKey(id), &n); err != nil {
				return err
			}
			if err := o.x.Delete(store.EmailQueueKey(n.Email.NextAt.Unix(), n.ID)); err != nil {
				return err
			}
			if o.noticeVoid(&n) {
				n.Email.State, n.Email.NextAt = EmailVoid, time.Time{}
			} else {
				n.Email.NextAt = o.now.Add(EmailLease)
				if err := o.x.Put(store.EmailQueueKey(n.Email.NextAt.Unix(), n.ID), nil); err != nil {
					return err
				}
				out = append(out, EmailJob{Notice: n})
			}
			if err := o.x.PutJSON(store.NoticeKey(n.ID), &n); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// noticeVoid reports whether n warns of an end the license no longer has
// (or the license is gone). The notices of the end itself (ended,
// renewal reminder) stay true once issued.
func (o *op) noticeVoid(n *Notice) bool {
	if n.Kind == NoticeEnded || n.Kind == NoticeReminder || n.LicenseID == "" { // facts, not warnings
		return false
	}
	l, err := o.license(n.LicenseID)
	if err != nil {
		return true
	}
	end, _ := l.noticeEnd(o.now)
	return !end.Equal(n.End)
}

// RecordEmail records the outcome of one send of notice id: sent when
// sendErr is nil; else retried with backoff, or failed when permanent or
// past EmailRetryFor.
func (lg *Ledger) RecordEmail(ctx context.Context, id string, sendErr error, permanent bool) error {
	return lg.update(func(o *op) error {
		var n Notice
		if err := o.x.GetJSON(store.NoticeKey(id), &n); err != nil {
			return err
		}
		if n.Email.State != EmailPending {
			return nil // voided or recorded by another sender meanwhile
		}
		if err := o.x.Delete(store.EmailQueueKey(n.Email.NextAt.Unix(), n.ID)); err != nil {
			return err
		}
		n.Email.Attempts++
		switch {
		case sendErr == nil:
			n.Email.State, n.Email.SentAt, n.Email.NextAt, n.Email.LastError = EmailSent, o.now, time.Time{}, ""
		default:
			msg := sendErr.Error()
			if len(msg) > maxEmailError {
				msg = msg[:maxEmailError]
			}
			n.Email.LastError = msg
			if permanent || o.now.Sub(n.IssuedAt) >= EmailRetryFor {
				n.Email.State, n.Email.NextAt = EmailFailed, time.Time{}
				break
			}
			n.Email.NextAt = o.now.Add(emailBackoff(n.Email.Attempts))
			if err := o.x.Put(store.EmailQueueKey(n.Email.NextAt.Unix(), n.ID), nil); err != nil {
				return err
			}
		}
		return o.x.PutJSON(store.NoticeKey(n.ID), &n)
	})
}

// emailBackoff is the wait after the attempts-th failed attempt: doubling
// from emailBackoffBase up to emailBackoffMax, with ±20 % jitter so that
// many notices failing together do not retry together.
func emailBackoff(attempts int) time.Duration {
	d := emailBackoffBase
	for i := 1; i < attempts && d < emailBackoffMax; i++ {
		d *= 2
	}
	d = min(d, emailBackoffMax)
	return d - d/5 + time.Duration(rand.Int64N(int64(d/5)*2+1))
}
