package app

import (
	"github.com/tollgate-iot/tollgate/server/internal/egress"
	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/server/internal/notify"
)

// deliverer returns the webhook deliverer over the ledger's outbox, woken
// when the ledger queues a delivery, with its attempts counted by result.
func (a *App) deliverer() *notify.Deliverer {
	m := a.m
	m.Counter("tollgate_webhook_attempts_total", "Webhook delivery attempts by result (ok, failed).", "result")
	m.Add("tollgate_webhook_attempts_total", 0, "ok")
	m.Add("tollgate_webhook_attempts_total", 0, "failed")
	return notify.New(notify.Options{Ledger: a.lg, Clock: a.clk, Logger: a.log, Wake: a.wake,
		Guard: egress.Guard{AllowPrivate: a.cfg.WebhookAllowPrivate},
		OnAttempt: func(_ ledger.Delivery, status int, err error) {
			if err == nil && status >= 200 && status < 300 {
				m.Add("tollgate_webhook_attempts_total", 1, "ok")
				return
			}
			m.Add("tollgate_webhook_attempts_total", 1, "failed")
		}})
}
