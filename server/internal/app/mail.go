package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"strings"
	"sync"

	"github.com/tollgate-iot/tollgate/server/internal/mail"
	"github.com/tollgate-iot/tollgate/server/internal/notices"
	"github.com/tollgate-iot/tollgate/shared/cli"
)

// maxSMTPFile bounds --smtp-password-file and --smtp-ca.
const maxSMTPFile = 1 << 20

// checkMail validates the e-mail settings as a whole.
func (c *Config) checkMail() error {
	if c.SMTP == "" {
		if c.MailFrom != "" || c.SMTPPasswordFile != "" || c.SMTPCA != "" {
			return fmt.Errorf("--mail-from, --smtp-password-file and --smtp-ca need --smtp")
		}
		return nil
	}
	cfg, err := mail.ParseURL(c.SMTP, c.MailFrom)
	if err != nil {
		return err
	}
	if c.SMTPPasswordFile != "" && (cfg.Username == "" || cfg.Password != "") {
		return fmt.Errorf("--smtp-password-file needs a user and no password in --smtp (smtp://USER@HOST:PORT)")
	}
	if c.SMTPPasswordFile != "" && cfg.TLS == mail.TLSNone {
		return fmt.Errorf("--smtp-password-file with tls=none would send the password in the clear")
	}
	if c.MailInterval <= 0 {
		return fmt.Errorf("--mail-interval must be positive")
	}
	return nil
}

// openMail builds the SMTP sender when --smtp is set (nil otherwise),
// reading the password file and the trusted roots.
func (a *App) openMail() (*mail.Sender, error) {
	c := a.cfg
	if c.SMTP == "" {
		return nil, nil
	}
	cfg, err := mail.ParseURL(c.SMTP, c.MailFrom)
	if err != nil {
		return nil, cli.Errorf("usage", "%v", err)
	}
	if c.SMTPPasswordFile != "" {
		b, err := readBounded(c.SMTPPasswordFile, maxSMTPFile)
		if err != nil {
			return nil, cli.Errorf("io", "--smtp-password-file: %v", err)
		}
		cfg.Password = strings.TrimRight(string(b), "\r\n")
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.SMTPCA != "" {
		b, err := readBounded(c.SMTPCA, maxSMTPFile)
		if err != nil {
			return nil, cli.Errorf("io", "--smtp-ca: %v", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(b) {
			return nil, cli.Errorf("tls", "--smtp-ca %s: no PEM certificate in it", c.SMTPCA)
		}
	}
	a.log.Info("notice e-mail", "smtp", cfg.String())
	return mail.NewSender(cfg, a.clk, tc), nil
}

// runNotices sends notice e-mail until ctx ends (nothing without --smtp).
func (a *App) runNotices(ctx context.Context, wg *sync.WaitGroup) {
	if a.mailer == nil {
		return
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		notices.Run(ctx, notices.Options{Ledger: a.lg, Sender: a.mailer, Clock: a.clk, Logger: a.log,
			Interval: a.cfg.MailInterval, OnResult: func(r string) { a.m.Add("tollgate_notice_emails_total", 1, r) }})
	}()
}

// mailMetrics registers the notice counters, every series from the start.
func (a *App) mailMetrics() {
	a.m.Counter("tollgate_notices_issued_total", "License notices issued by the scheduler.")
	a.m.Add("tollgate_notices_issued_total", 0)
	a.m.Counter("tollgate_notice_emails_total", "Notice e-mails sent, to be retried, or failed for good.", "result")
	for _, r := range []string{"sent", "retry", "failed"} {
		a.m.Add("tollgate_notice_emails_total", 0, r)
	}
}
