package mail

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/tollgate-iot/tollgate/shared/clock"
)

// Limits of one message.
const (
	// MaxRecipients bounds the To list of one message.
	MaxRecipients = 20
	// MaxSubjectBytes bounds a subject line.
	MaxSubjectBytes = 200
	// MaxAttachmentBytes bounds one attachment (a month's consumption CSV
	// of a large distributor is a few MiB).
	MaxAttachmentBytes = 32 << 20
	// SendTimeout bounds one connection: dial, TLS, AUTH and DATA.
	SendTimeout = 60 * time.Second
)

// Attachment is a file sent with a message.
type Attachment struct {
	Name        string // a plain file name, like consumption-2026-05.csv
	ContentType string // like text/csv
	Data        []byte
}

// Message is one e-mail. ID is its stable identity: the Message-ID
// header is derived from it, so a message sent again after a crash is
// recognizable as the same one.
type Message struct {
	ID          string
	To          []string
	Subject     string
	Text        string
	HTML        string
	Attachments []Attachment
}

// Sender sends messages with one SMTP setting.
type Sender struct {
	cfg Config
	clk clock.Clock
	// tls is the client TLS setting (nil: the system roots and the host
	// name); tests trust their own server's certificate with it.
	tls *tls.Config
}

// NewSender returns a Sender for cfg; tlsConfig may be nil.
func NewSender(cfg Config, clk clock.Clock, tlsConfig *tls.Config) *Sender {
	return &Sender{cfg: cfg, clk: clock.OrReal(clk), tls: tlsConfig}
}

// Config is the sender's setting.
func (s *Sender) Config() Config { return s.cfg }

// PermanentError is a refusal the SMTP server gave for good (a 5xx reply:
// unknown mailbox, message refused): sending again will not help.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return "mail: refused for good: " + e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Send builds m and delivers it in one SMTP connection. An error is
// *PermanentError when the server refused for good; anything else
// (network, timeout, a 4xx reply) may be retried.
func (s *Sender) Send(ctx context.Context, m Message) error {
	msg, err := s.build(m)
	if err != nil {
		return &PermanentError{Err: err}
	}
	c, err := gomail.NewClient(s.cfg.Host, s.options()...)
	if err != nil {
		return fmt.Errorf("mail: client: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, SendTimeout)
	defer cancel()
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		var se *gomail.SendError
		if errors.As(err, &se) && !se.IsTemp() && se.ErrorCode() >= 500 {
			return &PermanentError{Err: err}
		}
		return fmt.Errorf("mail: send to %s: %w", s.cfg.Addr(), err)
	}
	return nil
}

func (s *Sender) options() []gomail.Option {
	tc := s.tls
	if tc == nil {
		tc = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	tc = tc.Clone()
	if tc.ServerName == "" {
		tc.ServerName = s.cfg.Host
	}
	opts := []gomail.Option{gomail.WithPort(s.cfg.Port), gomail.WithTimeout(SendTimeout), gomail.WithTLSConfig(tc)}
	switch s.cfg.TLS {
	case TLSImplicit:
		opts = append(opts, gomail.WithSSL())
	case TLSNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	if s.cfg.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthPlain),
			gomail.WithUsername(s.cfg.Username), gomail.WithPassword(s.cfg.Password))
	}
	return opts
}

// build checks m against the limits (no header injection through the
// subject or a file name) and makes the go-mail message.
func (s *Sender) build(m Message) (*gomail.Msg, error) {
	if m.ID == "" || strings.ContainsAny(m.ID, "\r\n<>@ ") || len(m.ID) > 200 {
		return nil, fmt.Errorf("message id %q: want a short token without spaces, <, > or @", m.ID)
	}
	if len(m.To) == 0 || len(m.To) > MaxRecipients {
		return nil, fmt.Errorf("%d recipients: want 1..%d", len(m.To), MaxRecipients)
	}
	for _, to := range m.To {
		if _, err := Address("recipient", to); err != nil {
			return nil, err
		}
	}
	if len(m.Subject) > MaxSubjectBytes || strings.ContainsAny(m.Subject, "\r\n") {
		return nil, fmt.Errorf("subject: want one line of at most %d bytes", MaxSubjectBytes)
	}
	if m.Text == "" {
		return nil, errors.New("no text body")
	}
	msg := gomail.NewMsg()
	if err := msg.From(s.cfg.From); err != nil {
		return nil, err
	}
	if err := msg.To(m.To...); err != nil {
		return nil, err
	}
	msg.Subject(m.Subject)
	msg.SetMessageIDWithValue(m.ID + "@tollgate")
	msg.SetDateWithValue(s.clk.Now())
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	for _, a := range m.Attachments {
		if a.Name == "" || strings.ContainsAny(a.Name, "\r\n\"/\\") || len(a.Name) > 100 {
			return nil, fmt.Errorf("attachment name %q: want a plain file name", a.Name)
		}
		if len(a.Data) > MaxAttachmentBytes {
			return nil, fmt.Errorf("attachment %s: %d bytes, at most %d", a.Name, len(a.Data), MaxAttachmentBytes)
		}
		ct := gomail.ContentType(a.ContentType)
		if ct == "" {
			ct = gomail.TypeAppOctetStream
		}
		if err := msg.AttachReader(a.Name, bytes.NewReader(a.Data), gomail.WithFileContentType(ct)); err != nil {
			return nil, err
		}
	}
	return msg, nil
}
