package app

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/api"
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
		notices.Run(ctx, notices.Options{Ledger: a.lg, Sender: a.mailer, Reports: a.lg, Clock: a.clk, Logger: a.log,
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

// checkPublicURL validates --public-url: an absolute http(s) URL, no query.
func (c *Config) checkPublicURL() error {
	if c.PublicURL == "" {
		return nil
	}
	u, err := url.Parse(c.PublicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("--public-url %q: want the console's address, like https://licenses.example.com", c.PublicURL)
	}
	return nil
}

// invitationMailer e-mails invitation links through the notice e-mail's
// SMTP setting.
type invitationMailer struct {
	sender *mail.Sender
	base   string // the console's public URL, no trailing slash
}

// invitations is the API's invitation mailer: nil without --smtp.
func (a *App) invitations() api.InvitationMailer {
	if a.mailer == nil {
		return nil
	}
	base := strings.TrimRight(a.cfg.PublicURL, "/")
	if base == "" {
		base = a.HTTPURL()
	}
	return invitationMailer{sender: a.mailer, base: base}
}

// SendInvitation sends the link once (a new random message id: a link is
// not a notice, and a new invitation is a new link).
func (m invitationMailer) SendInvitation(ctx context.Context, email, path string, expires time.Time) error {
	b := make([]byte, 9)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	link := m.base + path
	text := "You have been given access to the Tollgate console.\n\n" +
		"Open this link to set your password (it works once, until " + expires.UTC().Format(time.RFC1123) + "):\n\n  " + link + "\n\n" +
		"If you did not expect this, ignore this message: nothing happens until the link is opened.\n"
	return m.sender.Send(ctx, mail.Message{ID: "inv_" + hex.EncodeToString(b), To: []string{email},
		Subject: "Your Tollgate console invitation", Text: text})
}
