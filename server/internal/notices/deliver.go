// Package notices sends the e-mail of license notices: it claims the
// notices due from the ledger, renders each into a message and sends it
// over SMTP (package mail), then records the outcome. Sending is at least
// once: a crash between sending and recording sends the same notice again,
// with the same Message-ID.
package notices

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/server/internal/mail"
	"github.com/tollgate-iot/tollgate/shared/clock"
)

// Ledger is what the deliverer needs of the ledger.
type Ledger interface {
	ClaimEmails(ctx context.Context, limit int) ([]ledger.EmailJob, error)
	RecordEmail(ctx context.Context, id string, sendErr error, permanent bool) error
}

// Sender sends one message (mail.Sender does).
type Sender interface {
	Send(ctx context.Context, m mail.Message) error
}

// ClaimBatch bounds the e-mails claimed at once: each is held for
// ledger.EmailLease, so a batch must be sent well within it.
const ClaimBatch = 20

// Options configures Run.
type Options struct {
	Ledger   Ledger
	Sender   Sender
	Clock    clock.Clock
	Logger   *slog.Logger
	Interval time.Duration // how often to look for due e-mail; default 30 s
	// OnResult, if set, is called after each send with sent, retry or
	// failed (metrics, tests).
	OnResult func(result string)
}

// Run sends due notice e-mail on every tick until ctx ends.
func Run(ctx context.Context, o Options) {
	if o.Interval <= 0 {
		o.Interval = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	t := clock.OrReal(o.Clock).NewTicker(o.Interval)
	defer t.Stop()
	for {
		for ctx.Err() == nil {
			n, err := Pass(ctx, o)
			if err != nil {
				o.Logger.Error("notice e-mail", "error", err)
			}
			if err != nil || n < ClaimBatch {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
	}
}

// Pass claims one batch of due e-mail, sends each and records the
// outcome; it returns how many it claimed.
func Pass(ctx context.Context, o Options) (int, error) {
	jobs, err := o.Ledger.ClaimEmails(ctx, ClaimBatch)
	if err != nil {
		return 0, err
	}
	for i := range jobs {
		n := &jobs[i].Notice
		sendErr := o.Sender.Send(ctx, Message(n))
		var perm *mail.PermanentError
		permanent := errors.As(sendErr, &perm)
		if err := o.Ledger.RecordEmail(ctx, n.ID, sendErr, permanent); err != nil {
			return len(jobs), err
		}
		result := "sent"
		switch {
		case permanent:
			result = "failed"
			o.Logger.Warn("notice e-mail refused", "notice", n.ID, "license", n.LicenseID, "error", sendErr)
		case sendErr != nil:
			result = "retry"
			o.Logger.Info("notice e-mail failed, will retry", "notice", n.ID, "error", sendErr)
		}
		if o.OnResult != nil {
			o.OnResult(result)
		}
	}
	return len(jobs), nil
}
