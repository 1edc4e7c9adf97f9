// Package api is the admin REST API under /v1 (docs/api.md): API-key
// authentication, strict JSON in, wire types out, one error map, plus
// /healthz and /metrics. Every handler runs MaxBytesReader → strict decode
// → Validate → ledger call → render.
package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/tollgate-iot/tollgate/server/internal/auth"
	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/server/internal/metrics"
	"github.com/tollgate-iot/tollgate/shared/clock"
	"github.com/tollgate-iot/tollgate/shared/redeem"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// Options configures New.
type Options struct {
	Ledger  *ledger.Ledger
	Clock   clock.Clock
	Logger  *slog.Logger
	Metrics *metrics.Registry // nil: a private registry
	// Ready reports whether the server is ready; nil means always.
	Ready func() bool
	// Invitations, if set, e-mails a new invitation link to its person
	// (the server has SMTP).
	Invitations InvitationMailer
}

// InvitationMailer e-mails an invitation link (path relative to the
// console's public URL) to the person it is for.
type InvitationMailer interface {
	SendInvitation(ctx context.Context, email, path string, expires time.Time) error
}

// API serves the admin REST API.
type API struct {
	lg    *ledger.Ledger
	clock clock.Clock
	log   *slog.Logger
	m     *metrics.Registry
	ready func() bool
	// redeem limits online activation (redeem.go).
	redeem *redeemGuard
	// bodies bounds the request bodies read before they are handled.
	bodies *bodyBudget
	invite InvitationMailer
}

// New returns the API; Handler gives its router.
func New(o Options) *API {
	a := &API{lg: o.Ledger, clock: clock.OrReal(o.Clock), log: o.Logger, m: o.Metrics, ready: o.Ready, invite: o.Invitations,
		bodies: newBodyBudget(MaxBodyBytesInFlight, MaxBodiesInFlight, MaxBodiesPerKey)}
	if a.log == nil {
		a.log = slog.Default()
	}
	if a.m == nil {
		a.m = metrics.New()
	}
	if a.ready == nil {
		a.ready = func() bool { return true }
	}
	a.m.Counter("tollgate_http_requests_total", "Admin API requests by route, method and status.", "route", "method", "code")
	a.m.Histogram("tollgate_http_request_duration_seconds", "Admin API request latency, by route template, method and status class.",
		metrics.LatencyBuckets, "route", "method", "status_class")
	a.m.Histogram("tollgate_sync_duration_seconds", "Device sync handling after the body is read (verify, apply to the ledger, sign the answer), by result: ok or the error code.",
		metrics.LatencyBuckets, "result")
	a.m.GaugeFunc("tollgate_http_body_bytes_in_flight", "Bytes of request bodies read before they are handled (sync, online activation, usage import), held now.",
		func() float64 { b, _, _, _ := a.bodies.usage(); return float64(b) })
	a.m.GaugeFunc("tollgate_http_bodies_in_flight", "Request bodies being read before they are handled, now.",
		func() float64 { _, n, _, _ := a.bodies.usage(); return float64(n) })
	a.initRedeem()
	return a
}

// Metrics returns the registry /metrics serves.
func (a *API) Metrics() *metrics.Registry { return a.m }

// Handler returns the router.
func (a *API) Handler() http.Handler {
	notFound := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		a.fail(w, req, fmt.Errorf("%w: no route %s %s", ledger.ErrNotFound, req.Method, req.URL.Path))
	})
	notAllowed := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		a.writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", req.Method+" is not allowed here")
	})
	r := mux.NewRouter().UseEncodedPath()
	r.NotFoundHandler, r.MethodNotAllowedHandler = notFound, notAllowed
	r.Use(a.instrument)
	r.HandleFunc("/healthz", a.health).Methods(http.MethodGet)
	r.Handle("/metrics", a.m.Handler(a.log)).Methods(http.MethodGet)
	// The device signs its sync request: no API key.
	r.HandleFunc("/v1/device/sync", a.deviceSync).Methods(http.MethodPost)
	// Online activation: the device signs, the code authorizes (redeem.go).
	r.HandleFunc(redeem.Path, a.redeemOnline).Methods(http.MethodPost)
	a.routes(r, auth.Middleware(a.lg, a.fail))
	return r
}

// routes registers every /v1 endpoint behind authentication. (Routes sit on
// the main router rather than a /v1 subrouter so that a wrong method gets
// 405, not 404.)
func (a *API) routes(r *mux.Router, authn func(http.Handler) http.Handler) {
	h := func(path string, f http.HandlerFunc, method string) { r.Handle("/v1"+path, authn(f)).Methods(method) }
	h("/whoami", a.whoami, http.MethodGet)
	h("/customers", a.createCustomer, http.MethodPost)
	h("/customers", a.listCustomers, http.MethodGet)
	h("/customers/{id}", a.getCustomer, http.MethodGet)
	h("/customers/{id}", a.updateCustomer, http.MethodPatch)
	h("/users", a.createUser, http.MethodPost)
	h("/users", a.listUsers, http.MethodGet)
	h("/users/{id}/revoke", a.revokeUser, http.MethodPost)
	h("/users/{id}/reset-password", a.resetPassword, http.MethodPost)
	h("/devices", a.createDevice, http.MethodPost)
	h("/devices", a.listDevices, http.MethodGet)
	h("/devices/{id}", a.getDevice, http.MethodGet)
	h("/devices/{id}/blacklist", a.blacklist(true), http.MethodPost)
	h("/devices/{id}/unblacklist", a.blacklist(false), http.MethodPost)
	h("/devices/{id}/tokens", a.deviceTokens, http.MethodGet)
	h("/devices/{id}/revocation-list", a.deviceRevocationList, http.MethodGet)
	h("/devices/{id}/sync", a.deviceSyncStatus, http.MethodGet)
	h("/devices/{id}/telemetry", a.deviceTelemetry, http.MethodGet)
	h("/telemetry/discrepancies", a.telemetryDiscrepancies, http.MethodGet)
	h("/reports/consumption", a.consumptionReport, http.MethodGet)
	h("/devices/{id}/activation-key", a.deviceActivationKey, http.MethodPost)
	h("/activations/offline", a.activateOffline, http.MethodPost)
	h("/usage/import", a.importUsage, http.MethodPost)
	h("/enrollments", a.createEnrollment, http.MethodPost)
	h("/enrollments", a.listEnrollments, http.MethodGet)
	h("/enrollments/{id}/revoke", a.revokeEnrollment, http.MethodPost)
	h("/licenses", a.createLicenses, http.MethodPost)
	h("/licenses", a.listLicenses, http.MethodGet)
	h("/licenses/{id}", a.getLicense, http.MethodGet)
	h("/licenses/{id}", a.updateLicense, http.MethodPatch)
	h("/licenses/{id}", a.deleteLicense, http.MethodDelete)
	h("/licenses/{id}/token", a.licenseToken, http.MethodGet)
	h("/licenses/{id}/deductions", a.deductions, http.MethodGet)
	h("/licenses/{id}/history", a.licenseHistory, http.MethodGet)
	h("/licenses/{id}/notices", a.licenseNotices, http.MethodGet)
	h("/customers/{id}/notices", a.customerNotices, http.MethodGet)
	h("/licenses/{id}/bind", a.bind, http.MethodPost)
	h("/licenses/{id}/transfer", a.transfer, http.MethodPost)
	for name, act := range a.licenseActions() {
		h("/licenses/{id}/"+name, a.licenseAction(act), http.MethodPost)
	}
	h("/sales/sell", a.batch(true), http.MethodPost)
	h("/sales/return", a.batch(false), http.MethodPost)
	h("/sales", a.listSales, http.MethodGet)
	h("/audit", a.listAudit, http.MethodGet)
	h("/reports/renewals", a.reportRenewals, http.MethodGet)
	h("/reports/active", a.reportActive, http.MethodGet)
	h("/reports/created", a.reportCreated, http.MethodGet)
	h("/revocation-list", a.revocationList, http.MethodGet)
	h("/stats", a.stats, http.MethodGet)
	a.webhookRoutes(h)
}

// statusWriter remembers the status for metrics and logs.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// instrument counts, times and logs every request, and turns a panic into
// a 500 without killing the server. It never logs the API key or a token.
func (a *API) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := a.clock.Now()
		sw := &statusWriter{ResponseWriter: w}
		route := "unmatched"
		if cr := mux.CurrentRoute(r); cr != nil {
			if t, err := cr.GetPathTemplate(); err == nil {
				route = t
			}
		}
		defer func() {
			if p := recover(); p != nil {
				a.log.Error("handler panic", "route", route, "panic", fmt.Sprint(p))
				if sw.status == 0 {
					a.writeError(sw, http.StatusInternalServerError, "internal", "internal error")
				}
			}
			d := a.clock.Now().Sub(start)
			status, method := sw.status, metricMethod(r.Method)
			if status == 0 {
				status = http.StatusOK // net/http's answer to a handler that wrote nothing
			}
			a.m.Add("tollgate_http_requests_total", 1, route, method, strconv.Itoa(status))
			a.m.Observe("tollgate_http_request_duration_seconds", d.Seconds(), route, method, statusClass(status))
			a.log.Debug("http request", "method", r.Method, "route", route, "status", sw.status, "duration_ms", d.Milliseconds())
		}()
		next.ServeHTTP(sw, r)
	})
}

func (a *API) health(w http.ResponseWriter, r *http.Request) {
	if !a.ready() || a.lg.RootID() == "" {
		a.render(w, http.StatusServiceUnavailable, wire.Health{Status: "starting"})
		return
	}
	a.render(w, http.StatusOK, wire.Health{Status: "ok"})
}

// metricMethod bounds the method label: a client may send any token as
// its method, and each would otherwise become a series of its own.
func metricMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return m
	}
	return "other"
}

// statusClass is "2xx" for 200..299 and so on: the latency histogram is
// split by class, not by code, to bound its series (13 buckets each).
func statusClass(status int) string {
	if status < 100 || status > 599 {
		return "other"
	}
	return strconv.Itoa(status/100) + "xx"
}

func (a *API) render(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		a.log.Warn("render", "error", err)
	}
}

func (a *API) writeError(w http.ResponseWriter, status int, code, msg string) {
	a.render(w, status, wire.ErrorBody{Error: wire.ErrorDetail{Code: code, Message: msg}})
}

// fail answers err through the error map. 5xx details are logged, not sent.
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	setRetryAfter(w, err)
	status, code, msg := describe(err)
	if status >= 500 && status != http.StatusServiceUnavailable {
		a.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		msg = "internal error"
	}
	a.writeError(w, status, code, msg)
}

func actor(r *http.Request) ledger.Actor {
	act, _ := auth.ActorFrom(r.Context())
	return act
}

// maxCursorLen bounds a cursor; the server's own are far shorter.
const maxCursorLen = 512

// Cursors are opaque to clients: base64url of the ledger's position.
func encCursor(s string) string {
	if s == "" {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte(s))
}

func decCursor(s string) (string, error) {
	if len(s) > maxCursorLen || strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_')
	}) >= 0 {
		return "", fmt.Errorf("%w: cursor is not one this server issued", ErrBadQuery)
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return "", fmt.Errorf("%w: cursor is not one this server issued", ErrBadQuery)
	}
	return string(b), nil
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
