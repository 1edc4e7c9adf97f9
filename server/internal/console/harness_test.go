package console

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/tollgate-iot/tollgate/server/internal/api"
	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/server/internal/ledgertest"
	"github.com/tollgate-iot/tollgate/shared/token"
)

const testPassword = "correct horse battery"

// world is a real ledger in t.TempDir() behind the real API router and
// console, on a 127.0.0.1 port: root → dist (an issuer) → {acme, beta},
// an admin per customer who has set a console password, and licenses.
type world struct {
	t     testing.TB
	srv   *httptest.Server
	h     http.Handler // what srv serves: the console in front of the API
	lg    *ledger.Ledger
	le    *ledgertest.Env
	actor map[string]ledger.Actor // by customer: its admin
	email map[string]string       // by customer: its admin's e-mail
	// acmeLicense is a license acme owns; betaLicense one beta owns.
	acmeLicense, betaLicense ledger.LicenseView
}

func newWorld(t testing.TB) *world {
	t.Helper()
	ctx := context.Background()
	le := ledgertest.Open(t)
	lg := le.Ledger
	w := &world{t: t, lg: lg, le: le, actor: map[string]ledger.Actor{}, email: map[string]string{}}
	root, err := lg.Authenticate(ctx, le.RootKey)
	if err != nil {
		t.Fatal(err)
	}
	w.actor["root"] = root
	for _, c := range []struct{ id, parent string }{{"dist", "root"}, {"acme", "dist"}, {"beta", "dist"}} {
		by := w.actor[c.parent]
		if _, err := lg.CreateCustomer(ctx, by, ledger.CustomerInput{ID: c.id, Name: c.id, ParentID: c.parent}); err != nil {
			t.Fatal(err)
		}
		w.email[c.id] = "admin@" + c.id + ".test"
		w.actor[c.id] = w.person(by, c.id, w.email[c.id], ledger.RoleAdmin)
		if c.id == "dist" {
			on := true
			if _, err := lg.UpdateCustomer(ctx, root, "dist", ledger.CustomerUpdate{Issuer: &ledger.IssuerUpdate{Issuer: &on}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	dist := w.actor["dist"]
	mk := func(by ledger.Actor, customer, billing string, n int) []ledger.LicenseView {
		in := ledger.LicenseInput{CustomerID: customer, Type: token.TypeStandard, Billing: billing, Models: []string{"sensor-*"},
			MaxSamplesPerHour: 1000, Count: n}
		if billing == token.BillingDays {
			in.Days = 5
		}
		ls, err := lg.CreateLicenses(ctx, by, in)
		if err != nil {
			t.Fatal(err)
		}
		return ls
	}
	mk(root, "dist", token.BillingTerm, 7) // the vendor stocks its distributor
	w.acmeLicense = mk(dist, "acme", token.BillingTerm, 3)[0]
	w.betaLicense = mk(dist, "beta", token.BillingDays, 2)[0]

	web, err := New(Options{Ledger: lg, Clock: le.Clock, Logger: le.Logger})
	if err != nil {
		t.Fatal(err)
	}
	w.h = web.Mount(api.New(api.Options{Ledger: lg, Clock: le.Clock, Logger: le.Logger}).Handler())
	w.srv = httptest.NewServer(w.h)
	t.Cleanup(w.srv.Close)
	return w
}

// person creates a user and sets its console password through the
// invitation, as the person would; it returns the user's actor.
func (w *world) person(by ledger.Actor, customer, email string, role ledger.Role) ledger.Actor {
	w.t.Helper()
	ctx := context.Background()
	u, key, err := w.lg.CreateUser(ctx, by, customer, email, role)
	if err != nil {
		w.t.Fatal(err)
	}
	inv, err := w.lg.Invite(ctx, by, u.ID)
	if err != nil {
		w.t.Fatal(err)
	}
	if err := w.lg.AcceptInvitation(ctx, strings.TrimPrefix(inv.Path, ledger.InvitationPath), testPassword); err != nil {
		w.t.Fatal(err)
	}
	a, err := w.lg.Authenticate(ctx, key)
	if err != nil {
		w.t.Fatal(err)
	}
	return a
}

// client is a plain HTTP client with a cookie jar that does not follow
// redirects.
func (w *world) client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// signIn signs a plain client in the way a browser does (GET the form for
// its CSRF cookie, POST it back) and returns the session's CSRF token.
func (w *world) signIn(c *http.Client, email string) {
	w.t.Helper()
	tok := w.formToken(c, "/console/sign-in")
	res, err := c.PostForm(w.srv.URL+"/console/sign-in", url.Values{"csrf": {tok}, "email": {email}, "password": {testPassword}})
	if err != nil {
		w.t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != Prefix {
		w.t.Fatalf("sign-in: %d → %s", res.StatusCode, res.Header.Get("Location"))
	}
}

// formToken GETs a page and returns the pre-sign-in CSRF cookie it set.
func (w *world) formToken(c *http.Client, path string) string {
	w.t.Helper()
	res, err := c.Get(w.srv.URL + path)
	if err != nil {
		w.t.Fatal(err)
	}
	res.Body.Close()
	u, _ := url.Parse(w.srv.URL)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == formCookie {
			return ck.Value
		}
	}
	w.t.Fatalf("GET %s set no %s cookie", path, formCookie)
	return ""
}
