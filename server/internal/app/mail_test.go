package app

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/internal/testkit/smtpd"
	"github.com/tollgate-iot/tollgate/shared/clock"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// TestServeEmailsANoticeThroughSMTP runs serve with --smtp (a user with
// its password in --smtp-password-file, STARTTLS to a server trusted
// through --smtp-ca): binding a customer's 30-day trial makes its 30-day
// warning due at once; the scheduler issues it and the notice e-mail
// reaches the real SMTP server, addressed to the customer and the vendor
// above it, and the license lists it as sent.
func TestServeEmailsANoticeThroughSMTP(t *testing.T) {
	srv := smtpd.Start(t, smtpd.Options{})
	dir := t.TempDir()
	pw := filepath.Join(t.TempDir(), "smtp-password")
	if err := os.WriteFile(pw, []byte(smtpd.Pass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &served{t: t, dir: dir, admin: initData(t, dir)}
	s.serve(func(c *Config) {
		c.MQTTAddr = ""
		c.SMTP = strings.Replace(srv.URL("smtp"), ":"+smtpd.Pass+"@", "@", 1)
		c.SMTPPasswordFile, c.SMTPCA, c.MailFrom = pw, srv.CAFile(t), "tollgate@vendor.test"
		c.SchedulerInterval, c.MailInterval = 50*time.Millisecond, 50*time.Millisecond
	})
	s.call("POST", "/v1/customers", s.admin, wire.CreateCustomerRequest{ID: "acme", Name: "Acme", Email: "billing@acme.test"}, nil)
	var u wire.CreateUserResponse
	s.call("POST", "/v1/users", s.admin, wire.CreateUserRequest{CustomerID: "acme", Email: "admin@acme.test", Role: "admin"}, &u)
	s.call("POST", "/v1/devices", u.APIKey, wire.CreateDeviceRequest{ID: "press-01", CustomerID: "acme", Model: "press", PublicKey: devicePublicKey(t)}, nil)
	var trials wire.LicenseList
	s.call("GET", "/v1/licenses?customer=acme&type=trial", s.admin, nil, &trials)
	if len(trials.Licenses) != 1 {
		t.Fatalf("acme has %d trials", len(trials.Licenses))
	}
	id := trials.Licenses[0].ID
	s.call("POST", "/v1/licenses/"+id+"/bind", u.APIKey, wire.BindRequest{DeviceID: "press-01"}, nil)

	deadline := (clock.Real{}).Now().Add(20 * time.Second)
	var got []smtpd.Received // the notice (acme's admin also got its invitation link)
	for len(got) == 0 && (clock.Real{}).Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		got = slices.DeleteFunc(srv.Messages(), func(m smtpd.Received) bool { return m.To[0] == "admin@acme.test" })
	}
	if len(got) != 1 || !got[0].TLS || strings.Join(got[0].To, ",") != "billing@acme.test,admin@localhost" {
		t.Fatalf("received %+v", got)
	}
	p := smtpd.Parse(t, got[0].Data)
	if !strings.Contains(p.Header.Get("Subject"), "ends in 30 days") || !strings.Contains(p.Text, "press-01") {
		t.Fatalf("message %v\n%s", p.Header, p.Text)
	}
	var ns wire.NoticeList
	for (clock.Real{}).Now().Before(deadline) {
		s.call("GET", "/v1/licenses/"+id+"/notices", s.admin, nil, &ns)
		if len(ns.Notices) == 1 && ns.Notices[0].Email.State == "sent" {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(ns.Notices) != 1 || ns.Notices[0].Kind != "expiring_30d" || ns.Notices[0].Email.State != "sent" ||
		p.Header.Get("Message-Id") != "<"+ns.Notices[0].ID+"@tollgate>" {
		t.Fatalf("notices %+v", ns.Notices)
	}
}

// TestServeRefusesBadMailSettings: the e-mail settings are checked before
// anything opens, each refusal naming the flag.
func TestServeRefusesBadMailSettings(t *testing.T) {
	for _, tc := range []struct {
		change func(*Config)
		want   string
	}{
		{func(c *Config) { c.MailFrom = "a@b.test" }, "need --smtp"},
		{func(c *Config) { c.SMTP = "smtp://relay.test" }, "--mail-from"},
		{func(c *Config) { c.SMTP, c.MailFrom = "ftp://relay.test", "a@b.test" }, "scheme"},
		{func(c *Config) { c.SMTP, c.MailFrom, c.SMTPPasswordFile = "smtp://u:p@relay.test", "a@b.test", "/x" }, "--smtp-password-file"},
		{func(c *Config) { c.SMTP, c.MailFrom, c.MailInterval = "smtp://relay.test", "a@b.test", 0 }, "--mail-interval"},
		{func(c *Config) { c.PublicURL = "licenses.example.com" }, "--public-url"},
		{func(c *Config) { c.PublicURL = "https://licenses.example.com/?x=1" }, "--public-url"},
	} {
		c := testConfig(t.TempDir(), tc.change)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate = %v, want an error naming %q", err, tc.want)
		}
	}
}

// TestServeEmailsTheInvitationLink: with --smtp, a new user's invitation
// link is e-mailed to the person, under --public-url (the console's
// address behind a proxy), and the answer says it was; the link in the
// message is the one in the answer.
func TestServeEmailsTheInvitationLink(t *testing.T) {
	srv := smtpd.Start(t, smtpd.Options{})
	dir := t.TempDir()
	s := &served{t: t, dir: dir, admin: initData(t, dir)}
	s.serve(func(c *Config) {
		c.MQTTAddr = ""
		c.SMTP, c.SMTPCA, c.MailFrom = srv.URL("smtp"), srv.CAFile(t), "tollgate@vendor.test"
		c.PublicURL = "https://licenses.example.test/"
	})
	var u wire.CreateUserResponse
	s.call("POST", "/v1/users", s.admin, wire.CreateUserRequest{CustomerID: "root", Email: "new.admin@vendor.test", Role: "admin"}, &u)
	if !u.InvitationEmailed || u.InvitationEmailError != "" || u.InvitationPath == "" {
		t.Fatalf("answer %+v", u.Invitation)
	}
	got := srv.Messages()
	if len(got) != 1 || strings.Join(got[0].To, ",") != "new.admin@vendor.test" {
		t.Fatalf("received %+v", got)
	}
	p := smtpd.Parse(t, got[0].Data)
	if !strings.Contains(p.Text, "https://licenses.example.test"+u.InvitationPath) {
		t.Fatalf("the message does not carry the answer's link %s:\n%s", u.InvitationPath, p.Text)
	}
}
