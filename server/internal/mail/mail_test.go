package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/tollgate-iot/tollgate/internal/testkit/smtpd"
	"github.com/tollgate-iot/tollgate/shared/clock"
)

var t0 = time.Date(2026, 6, 1, 0, 5, 0, 0, time.UTC)

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want Config
	}{
		{"smtp://relay.example.com", Config{Host: "relay.example.com", Port: 587, TLS: TLSStartTLS, From: "tg@example.com"}},
		{"smtps://bob:p%40ss@smtp.example.com", Config{Host: "smtp.example.com", Port: 465, TLS: TLSImplicit, Username: "bob", Password: "p@ss", From: "tg@example.com"}},
		{"smtp://bob:pw@[::1]:2525", Config{Host: "::1", Port: 2525, TLS: TLSStartTLS, Username: "bob", Password: "pw", From: "tg@example.com"}},
		{"smtp://localhost:25?tls=none", Config{Host: "localhost", Port: 25, TLS: TLSNone, From: "tg@example.com"}},
	} {
		got, err := ParseURL(tc.url, "tg@example.com")
		if err != nil || got != tc.want {
			t.Errorf("ParseURL(%q) = %+v, %v; want %+v", tc.url, got, err, tc.want)
		}
	}
	for _, tc := range []struct{ url, from, why string }{
		{"http://relay", "tg@example.com", "scheme"},
		{"smtp://", "tg@example.com", "no host"},
		{"smtp://relay:0", "tg@example.com", "port"},
		{"smtp://relay:99999", "tg@example.com", "port"},
		{"smtp://relay/inbox", "tg@example.com", "nothing after the port"},
		{"smtp://relay?tls=off", "tg@example.com", "unknown setting"},
		{"smtps://relay?tls=none", "tg@example.com", "unknown setting"},
		{"smtp://bob:pw@relay?tls=none", "tg@example.com", "in the clear"},
		{"smtp://:pw@relay", "tg@example.com", "without a user"},
		{"smtp://relay", "", "address is required"},
		{"smtp://relay", "Tollgate <tg@example.com>", "bare address"},
		{"smtp://relay", "tg@example.com\r\nBcc: x@evil.test", "bare address"},
		{"smtp://" + strings.Repeat("a", MaxURLBytes), "tg@example.com", "at most"},
	} {
		_, err := ParseURL(tc.url, tc.from)
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.why) {
			t.Errorf("ParseURL(%.40q, %q) = %v; want ErrConfig naming %q", tc.url, tc.from, err, tc.why)
		}
	}
}

func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"smtp://u:p@h:25", "smtps://h", "smtp://h?tls=none", "smtp://[::1]:1", "smtp://%zz@h"} {
		f.Add(s, "a@b.c")
	}
	f.Fuzz(func(t *testing.T, raw, from string) {
		c, err := ParseURL(raw, from)
		if err != nil {
			return
		}
		if c.Host == "" || c.Port < 1 || c.Port > 65535 || c.From == "" || (c.TLS == TLSNone && c.Password != "") {
			t.Fatalf("ParseURL(%q, %q) accepted %+v", raw, from, c)
		}
	})
}

func sender(t *testing.T, s *smtpd.Server, scheme string) *Sender {
	t.Helper()
	cfg, err := ParseURL(s.URL(scheme), "reports@tollgate.test")
	if err != nil {
		t.Fatal(err)
	}
	return NewSender(cfg, clock.NewFake(t0), &tls.Config{RootCAs: s.Roots, MinVersion: tls.VersionTLS12})
}

func report() Message {
	return Message{ID: "ntc_5f2a", To: []string{"billing@acme.test"}, Subject: "Consumption report 2026-05 for acme",
		Text: "Your consumption report for May 2026 is attached.", HTML: "<p>Your consumption report for <b>May 2026</b> is attached.</p>",
		Attachments: []Attachment{{Name: "consumption-2026-05.csv", ContentType: "text/csv", Data: []byte("kind,customer_id\ncustomer,acme\n")}}}
}

// TestSendReportWithCSVOverStartTLS sends a report the way the monthly
// notice does to a real SMTP server: STARTTLS, AUTH PLAIN, text and HTML,
// the CSV attached; the server's copy parses back to the same parts.
func TestSendReportWithCSVOverStartTLS(t *testing.T) {
	srv := smtpd.Start(t, smtpd.Options{})
	if err := sender(t, srv, "smtp").Send(context.Background(), report()); err != nil {
		t.Fatal(err)
	}
	got := srv.Messages()
	if len(got) != 1 || !got[0].TLS || got[0].From != "reports@tollgate.test" || len(got[0].To) != 1 || got[0].To[0] != "billing@acme.test" {
		t.Fatalf("received %+v", got)
	}
	parts := smtpd.Parse(t, got[0].Data)
	if parts.Header.Get("Message-Id") != "<ntc_5f2a@tollgate>" || parts.Header.Get("Subject") != "Consumption report 2026-05 for acme" {
		t.Fatalf("headers %v", parts.Header)
	}
	if d, _ := parts.Header.Date(); !d.Equal(t0) {
		t.Fatalf("Date %v, want the injected clock's %v", d, t0)
	}
	if !strings.Contains(parts.Text, "May 2026 is attached") || !strings.Contains(parts.HTML, "<b>May 2026</b>") {
		t.Fatalf("bodies text=%q html=%q", parts.Text, parts.HTML)
	}
	if a := parts.Files["consumption-2026-05.csv"]; a != "kind,customer_id\ncustomer,acme\n" {
		t.Fatalf("attachment %q (files %v)", a, parts.Files)
	}
}

func TestSendOverImplicitTLS(t *testing.T) {
	srv := smtpd.Start(t, smtpd.Options{ImplicitTLS: true})
	if err := sender(t, srv, "smtps").Send(context.Background(), report()); err != nil {
		t.Fatal(err)
	}
	if got := srv.Messages(); len(got) != 1 || !got[0].TLS {
		t.Fatalf("received %+v", got)
	}
}

// TestSendRefusesServerWithoutSTARTTLS: an attacker between the server
// and its relay who strips STARTTLS must not get the password or the
// report in the clear.
func TestSendRefusesServerWithoutSTARTTLS(t *testing.T) {
	srv := smtpd.Start(t, smtpd.Options{NoTLS: true})
	err := sender(t, srv, "smtp").Send(context.Background(), report())
	if err == nil || len(srv.Messages()) != 0 || srv.Auths() != 0 {
		t.Fatalf("sent without TLS: err %v, %d messages, %d auths", err, len(srv.Messages()), srv.Auths())
	}
}

// TestSendRefusesUntrustedCertificate: a relay whose certificate the
// server does not trust gets nothing.
func TestSendRefusesUntrustedCertificate(t *testing.T) {
	srv := smtpd.Start(t, smtpd.Options{})
	cfg, _ := ParseURL(srv.URL("smtp"), "reports@tollgate.test")
	err := NewSender(cfg, clock.NewFake(t0), nil).Send(context.Background(), report())
	if err == nil || len(srv.Messages()) != 0 {
		t.Fatalf("sent to an untrusted relay: %v", err)
	}
}

func TestSendTellsPermanentFromTemporaryRefusal(t *testing.T) {
	srv := smtpd.Start(t, smtpd.Options{})
	s := sender(t, srv, "smtp")
	srv.RefuseRecipients(&smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such mailbox"})
	var perm *PermanentError
	if err := s.Send(context.Background(), report()); !errors.As(err, &perm) {
		t.Fatalf("550: %v, want a PermanentError", err)
	}
	srv.RefuseRecipients(&smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"})
	if err := s.Send(context.Background(), report()); err == nil || errors.As(err, &perm) {
		t.Fatalf("451: %v, want a temporary error", err)
	}
}

// TestBuildRefusesHeaderInjection: text from a customer's settings (its
// e-mail address) or a report name cannot add headers or recipients.
func TestBuildRefusesHeaderInjection(t *testing.T) {
	s := NewSender(Config{Host: "h", Port: 25, From: "a@b.test"}, clock.NewFake(t0), nil)
	for name, m := range map[string]func(*Message){
		"subject":         func(m *Message) { m.Subject = "hi\r\nBcc: victim@x.test" },
		"recipient":       func(m *Message) { m.To = []string{"billing@acme.test\r\nBcc: victim@x.test"} },
		"display name":    func(m *Message) { m.To = []string{"Billing <billing@acme.test>"} },
		"two recipients":  func(m *Message) { m.To = []string{"a@x.test, b@x.test"} },
		"attachment name": func(m *Message) { m.Attachments[0].Name = "x.csv\"\r\nContent-Type: text/html" },
		"message id":      func(m *Message) { m.ID = "a@b" },
		"no recipients":   func(m *Message) { m.To = nil },
		"no text":         func(m *Message) { m.Text = "" },
	} {
		msg := report()
		m(&msg)
		if _, err := s.build(msg); err == nil {
			t.Errorf("%s: built", name)
		}
	}
}
