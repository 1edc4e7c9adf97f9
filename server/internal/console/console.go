// Package console is the web console (docs/console.md): server-rendered
// pages on the API's listener, for people who sign in with e-mail and
// password. Every page acts as the signed-in user's ledger.Actor and calls
// the same ledger methods the API handlers do, so the role and visibility
// rules live in the ledger alone. Templates and the style sheet are
// embedded; nothing is fetched from elsewhere, and no page needs
// JavaScript.
package console

import (
	"bytes"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"

	"github.com/tollgate-iot/tollgate/server/internal/api"
	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/shared/clock"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/console.css
var staticFS embed.FS

// Prefix starts every console path but the root's redirect.
const Prefix = "/console/"

// Limits of the console.
const (
	// MaxFormBytes bounds a posted form.
	MaxFormBytes = 16 << 10
	// HistoryShown is how many history entries a license page shows.
	HistoryShown = 100
)

// Cookie names.
const (
	sessionCookie = "tollgate_session"
	// formCookie carries the CSRF token of the forms shown before sign-in
	// (sign-in, set password): the form must echo it.
	formCookie = "tollgate_form"
)

// ErrCSRF reports a POST without the form's CSRF token, or with another.
var ErrCSRF = errors.New("missing or wrong CSRF token: reload the page and submit the form again")

// securityHeaders are set on every console answer.
var securityHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
	"X-Content-Type-Options":  "nosniff",
	"Referrer-Policy":         "no-referrer",
	"X-Frame-Options":         "DENY",
	"Cache-Control":           "no-store",
}

// Options configures New.
type Options struct {
	Ledger *ledger.Ledger
	Clock  clock.Clock
	Logger *slog.Logger
	// Invitations, if set, e-mails invitation links (the API's mailer).
	Invitations api.InvitationMailer
}

// Console serves the web console.
type Console struct {
	lg    *ledger.Ledger
	clock clock.Clock
	log   *slog.Logger
	pages map[string]*template.Template
	mux   *http.ServeMux
	// signIns limits sign-in and set-password posts per address.
	signIns *addrLimiter
	invite  api.InvitationMailer
}

// New parses the embedded templates and returns the console.
func New(o Options) (*Console, error) {
	c := &Console{lg: o.Ledger, clock: clock.OrReal(o.Clock), log: o.Logger, pages: map[string]*template.Template{}, invite: o.Invitations}
	if c.log == nil {
		c.log = slog.Default()
	}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		if n == "templates/layout.html" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return nil, err
		}
		c.pages[strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")] = t
	}
	c.signIns = newAddrLimiter(c.clock)
	c.routes()
	return c, nil
}

// Mount returns a handler that serves the console at / and under Prefix
// and hands every other path to next (the API).
func (c *Console) Mount(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" || r.URL.Path == "/console" || strings.HasPrefix(r.URL.Path, Prefix) {
			for k, v := range securityHeaders {
				w.Header().Set(k, v)
			}
			c.mux.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (c *Console) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, Prefix, http.StatusSeeOther) })
	m.HandleFunc("GET /console", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, Prefix, http.StatusSeeOther) })
	m.HandleFunc("GET /console/static/console.css", c.css)
	m.HandleFunc("GET /console/sign-in", c.signInPage)
	m.HandleFunc("POST /console/sign-in", c.signIn)
	m.HandleFunc("GET /console/invite/{token}", c.invitePage)
	m.HandleFunc("POST /console/invite/{token}", c.acceptInvite)
	m.HandleFunc("POST /console/sign-out", c.authed(c.signOut))
	m.HandleFunc("POST /console/sign-out-everywhere", c.authed(c.signOutEverywhere))
	m.HandleFunc("GET /console/{$}", c.authed(c.dashboard))
	m.HandleFunc("GET /console/licenses", c.authed(c.licenses))
	m.HandleFunc("GET /console/licenses/{id}", c.authed(c.license))
	m.HandleFunc("POST /console/licenses/batch", c.authed(c.batch))
	m.HandleFunc("POST /console/licenses/{id}/bind", c.authed(c.bind))
	m.HandleFunc("POST /console/licenses/{id}/unbind", c.authed(c.unbind))
	m.HandleFunc("GET /console/devices", c.authed(c.devices))
	m.HandleFunc("GET /console/devices/{id}", c.authed(c.device))
	m.HandleFunc("GET /console/customers", c.authed(c.customers))
	m.HandleFunc("GET /console/sales", c.authed(c.sales))
	m.HandleFunc("GET /console/audit", c.authed(c.audit))
	m.HandleFunc("GET /console/reports", c.authed(c.reports))
	m.HandleFunc("GET /console/reports/consumption", c.authed(c.consumptionReport))
	m.HandleFunc("GET /console/reports/consumption.csv", c.authed(c.consumptionCSV))
	m.HandleFunc("GET /console/reports/renewals", c.authed(c.renewalsReport))
	m.HandleFunc("GET /console/reports/active", c.authed(c.activeReport))
	m.HandleFunc("GET /console/reports/created", c.authed(c.createdReport))
	m.HandleFunc("GET /console/webhooks", c.authed(c.webhooks))
	m.HandleFunc("POST /console/webhooks", c.authed(c.createWebhook))
	m.HandleFunc("GET /console/webhooks/{id}", c.authed(c.webhook))
	m.HandleFunc("POST /console/webhooks/{id}/delete", c.authed(c.deleteWebhook))
	m.HandleFunc("GET /console/sell", c.authed(c.sellPage))
	m.HandleFunc("POST /console/sell", c.authed(c.sell))
	c.routesLicenseDevice(m)
	c.routesCustomersPeople(m)
	c.routesAirGap(m)
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		c.fail(w, r, nil, http.StatusNotFound, "not_found", "no page "+r.URL.Path)
	})
	c.mux = m
}

func (c *Console) css(w http.ResponseWriter, r *http.Request) {
	b, err := staticFS.ReadFile("static/console.css")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "max-age=3600")
	w.Write(b)
}

// page is what every template gets.
type page struct {
	Title   string
	Session *ledger.Session
	// CSRF is the token the page's forms carry.
	CSRF string
	Data any
	// Error is a refusal shown on the page: the API's code and message.
	Error *pageError
}

type pageError struct {
	Status        int
	Code, Message string
}

// render executes a page template into a buffer first, so that a template
// error is a clean 500 rather than half a page.
func (c *Console) render(w http.ResponseWriter, status int, name string, p page) {
	t, ok := c.pages[name]
	if !ok {
		c.log.Error("console: no template", "name", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if p.Session != nil && p.CSRF == "" {
		p.CSRF = p.Session.CSRF
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, p); err != nil {
		c.log.Error("console: template", "name", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// describe is the status, code and message of err: the API's for every
// ledger and request error, the console's own for ErrCSRF.
func describe(err error) (int, string, string) {
	if errors.Is(err, ErrCSRF) {
		return http.StatusForbidden, "csrf_token_invalid", err.Error()
	}
	if errors.Is(err, ErrSignInRateLimited) {
		return http.StatusTooManyRequests, "sign_in_rate_limited", err.Error()
	}
	return api.Describe(err)
}

// failErr shows err on the error page with the API's code and message.
func (c *Console) failErr(w http.ResponseWriter, r *http.Request, s *ledger.Session, err error) {
	status, code, msg := describe(err)
	if status == http.StatusInternalServerError {
		c.log.Error("console", "path", r.URL.Path, "err", err)
		msg = "internal error"
	}
	c.fail(w, r, s, status, code, msg)
}

func (c *Console) fail(w http.ResponseWriter, r *http.Request, s *ledger.Session, status int, code, msg string) {
	c.render(w, status, "error", page{Title: code, Session: s, Error: &pageError{Status: status, Code: code, Message: msg}})
}

// routesLicenseDevice registers the license page's token download and
// actions, bulk creation and the device page's blacklist actions
// (licensepage.go, create.go, deviceactions.go).
func (c *Console) routesLicenseDevice(m *http.ServeMux) {
	m.HandleFunc("GET /console/licenses/new", c.authed(c.createPage))
	m.HandleFunc("POST /console/licenses/new", c.authed(c.createLicenses))
	m.HandleFunc("GET /console/licenses/{id}/token", c.authed(c.licenseToken))
	for _, act := range licenseActs {
		m.HandleFunc("POST /console/licenses/{id}/"+act.Name, c.authed(c.licenseAction(act)))
	}
	m.HandleFunc("POST /console/devices/{id}/blacklist", c.authed(c.deviceBlacklist(true)))
	m.HandleFunc("POST /console/devices/{id}/unblacklist", c.authed(c.deviceBlacklist(false)))
}
