package notices

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/tollgate-iot/tollgate/internal/testkit/smtpd"
	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/server/internal/mail"
	"github.com/tollgate-iot/tollgate/shared/clock"
)

var t0 = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

// outbox is a ledger's e-mail queue in memory: what Pass claims and
// records.
type outbox struct {
	mu       sync.Mutex
	jobs     []ledger.EmailJob
	recorded map[string]string // id → sent, retry or failed
}

func (o *outbox) ClaimEmails(_ context.Context, limit int) ([]ledger.EmailJob, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := min(limit, len(o.jobs))
	out := o.jobs[:n]
	o.jobs = o.jobs[n:]
	return out, nil
}

func (o *outbox) RecordEmail(_ context.Context, id string, err error, permanent bool) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch {
	case err == nil:
		o.recorded[id] = "sent"
	case permanent:
		o.recorded[id] = "failed"
	default:
		o.recorded[id] = "retry"
	}
	return nil
}

func notice(id, kind string) ledger.EmailJob {
	return ledger.EmailJob{Notice: ledger.Notice{ID: id, LicenseID: "lic-" + id, Serial: "TG-" + id, CustomerID: "acme", DeviceID: "press-01",
		Kind: kind, End: t0.Add(7 * 24 * time.Hour), Email: ledger.Email{State: ledger.EmailPending, To: []string{"billing@acme.test", "ops@dist.test"}}}}
}

func testSender(t *testing.T, srv *smtpd.Server) *mail.Sender {
	cfg, err := mail.ParseURL(srv.URL("smtp"), "tollgate@vendor.test")
	if err != nil {
		t.Fatal(err)
	}
	return mail.NewSender(cfg, clock.NewFake(t0), &tls.Config{RootCAs: srv.Roots, MinVersion: tls.VersionTLS12})
}

// TestPassSendsEachClaimedNoticeOnce: a batch of notices goes to a real
// SMTP server, one message each with the notice's id as Message-ID, and
// each outcome is recorded.
func TestPassSendsEachClaimedNoticeOnce(t *testing.T) {
	srv := smtpd.Start(t, smtpd.Options{})
	ob := &outbox{recorded: map[string]string{}}
	for _, id := range []string{"ntc_a", "ntc_b", "ntc_c"} {
		ob.jobs = append(ob.jobs, notice(id, ledger.NoticeExpiring7))
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	n, err := Pass(context.Background(), Options{Ledger: ob, Sender: testSender(t, srv), Logger: quiet})
	if err != nil || n != 3 {
		t.Fatalf("Pass = %d, %v", n, err)
	}
	got := srv.Messages()
	if len(got) != 3 {
		t.Fatalf("received %d messages", len(got))
	}
	for i, m := range got {
		p := smtpd.Parse(t, m.Data)
		id := []string{"ntc_a", "ntc_b", "ntc_c"}[i]
		if p.Header.Get("Message-Id") != "<"+id+"@tollgate>" || len(m.To) != 2 || ob.recorded[id] != "sent" ||
			!strings.Contains(p.Header.Get("Subject"), "ends in 7 days") || !strings.Contains(p.Text, "press-01") {
			t.Fatalf("message %d: %v to %v, recorded %q, text %q", i, p.Header, m.To, ob.recorded[id], p.Text)
		}
	}
}

func TestPassRecordsRefusals(t *testing.T) {
	srv := smtpd.Start(t, smtpd.Options{})
	ob := &outbox{recorded: map[string]string{}, jobs: []ledger.EmailJob{notice("ntc_x", ledger.NoticeEnded)}}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	o := Options{Ledger: ob, Sender: testSender(t, srv), Logger: quiet}
	srv.RefuseRecipients(&smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"})
	if _, err := Pass(context.Background(), o); err != nil || ob.recorded["ntc_x"] != "retry" {
		t.Fatalf("451: recorded %q, %v", ob.recorded["ntc_x"], err)
	}
	ob.jobs = []ledger.EmailJob{notice("ntc_x", ledger.NoticeEnded)}
	srv.RefuseRecipients(&smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such mailbox"})
	if _, err := Pass(context.Background(), o); err != nil || ob.recorded["ntc_x"] != "failed" {
		t.Fatalf("550: recorded %q, %v", ob.recorded["ntc_x"], err)
	}
}

// TestMessageEscapesHTML: a customer id or serial an admin chose cannot
// put markup into the HTML part; the text part carries the same facts.
func TestMessageEscapesHTML(t *testing.T) {
	j := notice("ntc_h", ledger.NoticeDays7)
	j.Notice.CustomerID = `acme"><script>alert(1)</script>`
	m := Message(&j.Notice)
	if strings.Contains(m.HTML, "<script>") || !strings.Contains(m.HTML, "&lt;script&gt;") {
		t.Fatalf("HTML not escaped:\n%s", m.HTML)
	}
	if !strings.Contains(m.Text, `acme"><script>`) || m.Subject != j.Notice.Summary() || m.ID != "ntc_h" {
		t.Fatalf("message %+v", m)
	}
}

// TestMessageOfDeviceAndEndpointNotices: a failed day names the device and
// the day, a disabled endpoint its URL; neither has a license line.
func TestMessageOfDeviceAndEndpointNotices(t *testing.T) {
	failed := ledger.Notice{ID: "ntc_f", CustomerID: "acme", DeviceID: "press-01", Kind: ledger.NoticeDeductionFailed, End: t0,
		Email: ledger.Email{To: []string{"billing@acme.test"}}}
	m := Message(&failed)
	if strings.Contains(m.Text, "License:") || !strings.Contains(m.Text, "Day:") || !strings.Contains(m.Subject, "press-01") ||
		!strings.Contains(m.Text, "device unblacklist") {
		t.Fatalf("failed day:\n%s", m.Text)
	}
	hook := ledger.Notice{ID: "ntc_w", CustomerID: "acme", Kind: ledger.NoticeWebhookDisabled, End: t0, Subject: "https://hooks.acme.test/t"}
	m = Message(&hook)
	if !strings.Contains(m.Subject, "https://hooks.acme.test/t") || !strings.Contains(m.Text, "Disabled:") || strings.Contains(m.HTML, "License") {
		t.Fatalf("disabled endpoint:\n%s\n%s", m.Subject, m.Text)
	}
}
