package console

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/tollgate-iot/tollgate/server/internal/ledger"
)

func body(t *testing.T, res *http.Response) string {
	t.Helper()
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestConsoleCSRFLessPostRefused: a plain POST without the CSRF token — of
// the sign-in form and of a signed-in form — is 403 csrf_token_invalid, and
// changes nothing.
func TestConsoleCSRFLessPostRefused(t *testing.T) {
	w := newWorld(t)
	c := w.client()
	// Sign-in without the form token: refused before the password is checked.
	res, err := c.PostForm(w.srv.URL+"/console/sign-in", url.Values{"email": {w.email["acme"]}, "password": {testPassword}})
	if err != nil {
		t.Fatal(err)
	}
	if b := body(t, res); res.StatusCode != http.StatusForbidden || !strings.Contains(b, "csrf_token_invalid") {
		t.Fatalf("sign-in without token: %d %s", res.StatusCode, b)
	}
	// A token of its own making, without the cookie it must equal: refused too.
	res, _ = c.PostForm(w.srv.URL+"/console/sign-in", url.Values{"csrf": {"forged"}, "email": {w.email["acme"]}, "password": {testPassword}})
	if b := body(t, res); res.StatusCode != http.StatusForbidden || !strings.Contains(b, "csrf_token_invalid") {
		t.Fatalf("sign-in with a forged token: %d", res.StatusCode)
	}
	w.signIn(c, w.email["dist"])
	before := sales(t, w)
	res, err = c.PostForm(w.srv.URL+"/console/sell", url.Values{"customer": {"acme"}, "count": {"1"}, "confirm": {"yes"}})
	if err != nil {
		t.Fatal(err)
	}
	if b := body(t, res); res.StatusCode != http.StatusForbidden || !strings.Contains(b, "csrf_token_invalid") {
		t.Fatalf("sell without token: %d %s", res.StatusCode, b)
	}
	res, _ = c.PostForm(w.srv.URL+"/console/sign-out-everywhere", url.Values{"csrf": {"wrong"}})
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("sign out everywhere with a wrong token: %d", res.StatusCode)
	}
	res.Body.Close()
	if after := sales(t, w); after != before {
		t.Fatalf("sales went from %d to %d", before, after)
	}
	// Still signed in: the refused sign-out did nothing.
	res, _ = c.Get(w.srv.URL + "/console/")
	if b := body(t, res); res.StatusCode != http.StatusOK || !strings.Contains(b, "Dashboard") {
		t.Fatalf("dashboard after refused posts: %d", res.StatusCode)
	}
}

func sales(t *testing.T, w *world) int {
	t.Helper()
	ss, _, err := w.lg.ListSales(t.Context(), w.actor["dist"], ledger.SaleFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return len(ss)
}

// TestConsoleHeadersAndCookies: every console answer carries the security
// headers; the session cookie is HttpOnly, SameSite=Strict, Path=/.
func TestConsoleHeadersAndCookies(t *testing.T) {
	w := newWorld(t)
	c := w.client()
	for _, p := range []string{"/", "/console/sign-in", "/console/nope"} {
		res, err := c.Get(w.srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		csp := res.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") ||
			res.Header.Get("X-Content-Type-Options") != "nosniff" || res.Header.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("GET %s headers: %v", p, res.Header)
		}
	}
	tok := w.formToken(c, "/console/sign-in")
	res, err := c.PostForm(w.srv.URL+"/console/sign-in", url.Values{"csrf": {tok}, "email": {w.email["acme"]}, "password": {testPassword}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	var sc string
	for _, v := range res.Header.Values("Set-Cookie") {
		if strings.HasPrefix(v, sessionCookie+"=") {
			sc = v
		}
	}
	for _, want := range []string{"HttpOnly", "SameSite=Strict", "Path=/"} {
		if !strings.Contains(sc, want) {
			t.Errorf("session cookie %q lacks %s", sc, want)
		}
	}
	if strings.Contains(sc, "Secure") {
		t.Errorf("session cookie over plain HTTP is Secure: %q", sc)
	}
	// The API is still served beside the console.
	res, _ = c.Get(w.srv.URL + "/healthz")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("/healthz: %d", res.StatusCode)
	}
	res.Body.Close()
	// The session cookie is not an API key.
	res, _ = c.Get(w.srv.URL + "/v1/stats")
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("/v1/stats with only a session cookie: %d", res.StatusCode)
	}
	res.Body.Close()
}

// TestConsoleSignedOutRedirects: pages need a session; a POST without one
// is refused with the API's code.
func TestConsoleSignedOutRedirects(t *testing.T) {
	w := newWorld(t)
	c := w.client()
	res, _ := c.Get(w.srv.URL + "/console/licenses")
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/console/sign-in" {
		t.Fatalf("licenses signed out: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	res.Body.Close()
	res, _ = c.PostForm(w.srv.URL+"/console/sell", url.Values{"csrf": {"x"}})
	if b := body(t, res); res.StatusCode != http.StatusUnauthorized || !strings.Contains(b, "session_invalid") {
		t.Fatalf("sell signed out: %d %s", res.StatusCode, b)
	}
}

// TestConsoleSignInRateLimited: SignInsPerAddress sign-in posts from one
// address in a window, then 429 sign_in_rate_limited (before any password
// is hashed) until the window ends.
func TestConsoleSignInRateLimited(t *testing.T) {
	w := newWorld(t)
	c := w.client()
	tok := w.formToken(c, "/console/sign-in")
	post := func(i int) (int, string) {
		res, err := c.PostForm(w.srv.URL+"/console/sign-in", url.Values{"csrf": {tok}, "email": {fmt.Sprintf("nobody%d@acme.test", i)}, "password": {"guess"}})
		if err != nil {
			t.Fatal(err)
		}
		return res.StatusCode, body(t, res)
	}
	for i := range SignInsPerAddress {
		if code, b := post(i); code != http.StatusUnauthorized || !strings.Contains(b, "bad_credentials") {
			t.Fatalf("post %d: %d", i+1, code)
		}
	}
	if code, b := post(0); code != http.StatusTooManyRequests || !strings.Contains(b, "sign_in_rate_limited") {
		t.Fatalf("post %d: %d, want 429 sign_in_rate_limited", SignInsPerAddress+1, code)
	}
	w.le.Clock.Advance(SignInWindow)
	if code, _ := post(0); code != http.StatusUnauthorized {
		t.Fatalf("after the window: %d", code)
	}
}

// TestConsoleSecureCookieUnderTLS: over TLS the session and form cookies
// are Secure.
func TestConsoleSecureCookieUnderTLS(t *testing.T) {
	w := newWorld(t)
	srv := httptest.NewTLSServer(w.h)
	defer srv.Close()
	w.srv = srv
	c := srv.Client()
	jar, _ := cookiejar.New(nil)
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err := c.Get(srv.URL + "/console/sign-in")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if sc := res.Header.Get("Set-Cookie"); !strings.Contains(sc, formCookie+"=") || !strings.Contains(sc, "; Secure") {
		t.Fatalf("form cookie over TLS: %q", sc)
	}
	tok := w.formToken(c, "/console/sign-in")
	res, err = c.PostForm(srv.URL+"/console/sign-in", url.Values{"csrf": {tok}, "email": {w.email["acme"]}, "password": {testPassword}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if sc := res.Header.Get("Set-Cookie"); !strings.Contains(sc, sessionCookie+"=") || !strings.Contains(sc, "; Secure") || !strings.Contains(sc, "HttpOnly") {
		t.Fatalf("session cookie over TLS: %q", sc)
	}
}
