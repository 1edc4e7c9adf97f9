package ingest

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"

	"github.com/tollgate-iot/tollgate/agent/internal/limits"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// ErrBrowserRequest reports a request a web browser made on behalf of a
// page (it carries Origin, or Sec-Fetch-Site other than "none"): a page
// opened on the device must not spend its budget and days.
var ErrBrowserRequest = errors.New("the local API refuses requests made by web pages (Origin or Sec-Fetch-Site header present)")

// ErrBadHost reports a Host header that is not the agent's loopback
// address: the request reached the agent under another name (DNS
// rebinding), so a page on that name could read the answer.
var ErrBadHost = errors.New("the local API answers only to its loopback address")

// ErrContentType reports a state-changing request without
// "Content-Type: application/json". Browsers send that type cross-origin
// only after a CORS preflight, which the agent never allows.
var ErrContentType = errors.New("the local API takes POST requests only with Content-Type: application/json")

// ErrUnauthorized reports a request without the configured local API
// token (Authorization: Bearer TOKEN).
var ErrUnauthorized = errors.New("the local API token is missing or wrong (send Authorization: Bearer TOKEN, the token in local_token_file)")

// ErrLocalToken reports a local API token file that cannot be used.
var ErrLocalToken = errors.New("local API token file unusable")

// GuardOptions describe the listener a guarded handler serves.
type GuardOptions struct {
	// Port is the TCP port the listener is bound to; "" for a unix socket,
	// where the Host header means nothing (a client names no host, and no
	// browser reaches a socket) and is not checked.
	Port string
	// Token, if not empty, is required on every request but GET /healthz.
	Token []byte
	// Refused, if set, counts refusals (shared by the listeners of one
	// agent, exposed as a metric).
	Refused *Refusals
	// Logger receives the first refusal of each kind at warn level and the
	// rest at debug (a page in a loop must not fill the device's log);
	// nil means slog.Default().
	Logger *slog.Logger
}

// Refusal codes of the guard, as in the error body and the metric.
const (
	RefusedBrowser     = "browser_request"
	RefusedHost        = "bad_host"
	RefusedToken       = "unauthorized"
	RefusedContentType = "unsupported_media_type"
)

// Refusals counts the guard's refusals by code. Safe for concurrent use.
type Refusals struct {
	browser, host, token, contentType atomic.Int64
}

// add counts one refusal and returns the count for its code so far.
func (r *Refusals) add(code string) int64 {
	switch code {
	case RefusedBrowser:
		return r.browser.Add(1)
	case RefusedHost:
		return r.host.Add(1)
	case RefusedToken:
		return r.token.Add(1)
	default:
		return r.contentType.Add(1)
	}
}

// Counts returns the refusals so far by code.
func (r *Refusals) Counts() map[string]int64 {
	return map[string]int64{RefusedBrowser: r.browser.Load(), RefusedHost: r.host.Load(),
		RefusedToken: r.token.Load(), RefusedContentType: r.contentType.Load()}
}

// Guard wraps the local API (and the metrics listener) so that a web page
// in a browser on the device cannot use it, directly or by DNS rebinding
// (docs/agent.md, "Local API and the browser"). In order: a request made
// by a browser for a page is 403; a Host that is not 127.0.0.1, localhost
// or [::1] with the listener's port is 421; a missing or wrong token (if
// one is configured) is 401; a request other than GET or HEAD whose
// Content-Type is not application/json is 415.
func Guard(h http.Handler, o GuardOptions) http.Handler {
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	if o.Refused == nil {
		o.Refused = &Refusals{}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code, name, err := o.check(r)
		if err == nil {
			h.ServeHTTP(w, r)
			return
		}
		level := slog.LevelDebug
		if o.Refused.add(name) == 1 {
			level = slog.LevelWarn
		}
		log.Log(r.Context(), level, "local API request refused (later ones of this kind at debug level; see tollgate_agent_local_api_refused_total)",
			"code", name, "method", r.Method, "path", r.URL.Path)
		if code == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="tollgate-agent"`)
		}
		writeJSON(w, code, wire.ErrorBody{Error: wire.ErrorDetail{Code: name, Message: err.Error()}})
	})
}

// check returns the refusal of r, if any.
func (o GuardOptions) check(r *http.Request) (int, string, error) {
	if _, ok := r.Header["Origin"]; ok { // present, even empty
		return http.StatusForbidden, RefusedBrowser, fmt.Errorf("%w: Origin %.64q", ErrBrowserRequest, r.Header.Get("Origin"))
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "none" {
		return http.StatusForbidden, RefusedBrowser, fmt.Errorf("%w: Sec-Fetch-Site %.32q", ErrBrowserRequest, site)
	}
	if o.Port != "" && !LoopbackHost(r.Host, o.Port) {
		return http.StatusMisdirectedRequest, RefusedHost, fmt.Errorf("%w: Host %.64q, want 127.0.0.1:%s, localhost:%s or [::1]:%s",
			ErrBadHost, r.Host, o.Port, o.Port, o.Port)
	}
	if len(o.Token) > 0 && !(r.Method == http.MethodGet && r.URL.Path == "/healthz") && !o.tokenOK(r) {
		return http.StatusUnauthorized, RefusedToken, ErrUnauthorized
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || mt != "application/json" {
			return http.StatusUnsupportedMediaType, RefusedContentType,
				fmt.Errorf("%w, not %.64q", ErrContentType, r.Header.Get("Content-Type"))
		}
	}
	return 0, "", nil
}

// tokenOK compares the bearer token in constant time.
func (o GuardOptions) tokenOK(r *http.Request) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(got), o.Token) == 1
}

// LoopbackHost reports whether a Host header names a loopback address of
// the agent with port: 127.0.0.1, localhost or [::1], with the port (or
// without one when port is 80, as clients write it then).
func LoopbackHost(host, port string) bool {
	if len(host) > limits.MaxHostHeaderBytes {
		return false
	}
	h, p, err := net.SplitHostPort(host)
	if err != nil {
		h, p = host, "80"
		if inner, ok := strings.CutPrefix(host, "["); ok {
			if h, ok = strings.CutSuffix(inner, "]"); !ok {
				return false
			}
		}
	}
	if p != port {
		return false
	}
	switch strings.ToLower(h) {
	case "127.0.0.1", "localhost", "::1":
		return true
	}
	return false
}

// LoadLocalToken reads the local API token from path: one line of
// limits.MinLocalTokenBytes to limits.MaxLocalTokenBytes printable ASCII
// characters without spaces (e.g. `openssl rand -hex 32`), in a file
// others cannot read.
func LoadLocalToken(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrLocalToken, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrLocalToken, err)
	}
	if st.Mode().Perm()&0o007 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %v; others must have no access (chmod o= %s)", ErrLocalToken, path, st.Mode().Perm(), path)
	}
	buf := make([]byte, limits.MaxLocalTokenBytes+2)
	n, _ := f.Read(buf)
	return ParseLocalToken(buf[:n])
}

// ParseLocalToken checks the content of a local API token file.
func ParseLocalToken(b []byte) ([]byte, error) {
	tok := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if len(tok) < limits.MinLocalTokenBytes || len(tok) > limits.MaxLocalTokenBytes {
		return nil, fmt.Errorf("%w: the token must be one line of %d..%d characters", ErrLocalToken, limits.MinLocalTokenBytes, limits.MaxLocalTokenBytes)
	}
	for i := 0; i < len(tok); i++ {
		if tok[i] <= ' ' || tok[i] > '~' {
			return nil, fmt.Errorf("%w: character %d is not printable ASCII (no spaces)", ErrLocalToken, i+1)
		}
	}
	return []byte(tok), nil
}
