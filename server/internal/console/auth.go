package console

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/api"
	"github.com/tollgate-iot/tollgate/server/internal/ledger"
)

// cookie returns a console cookie: HttpOnly, SameSite=Strict, Path=/, and
// Secure when the request came over TLS. maxAge < 0 deletes it; 0 makes a
// browser-session cookie (the server expires the session itself).
func cookie(r *http.Request, name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: r.TLS != nil, MaxAge: maxAge}
}

// authed runs h for a signed-in person: the session cookie must resolve to
// a live session (else GET redirects to sign-in and POST is refused), and a
// POST must carry the session's CSRF token.
func (c *Console) authed(h func(http.ResponseWriter, *http.Request, *ledger.Session)) http.HandlerFunc {
	return c.authedWith(parseForm, h)
}

// authedWith is authed with parse reading a POST's form (parseForm, or
// parseUpload for the pages that take a file).
func (c *Console) authedWith(parse func(http.ResponseWriter, *http.Request) error, h func(http.ResponseWriter, *http.Request, *ledger.Session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var s *ledger.Session
		ck, err := r.Cookie(sessionCookie)
		if err == nil {
			s, err = c.lg.ResolveSession(r.Context(), ck.Value)
		}
		if err != nil {
			if ck != nil {
				http.SetCookie(w, cookie(r, sessionCookie, "", -1))
			}
			if r.Method == http.MethodGet {
				http.Redirect(w, r, Prefix+"sign-in", http.StatusSeeOther)
				return
			}
			if errors.Is(err, http.ErrNoCookie) {
				err = ledger.ErrSessionInvalid
			}
			c.failErr(w, r, nil, err)
			return
		}
		if r.Method == http.MethodPost {
			if err := parse(w, r); err != nil {
				c.failErr(w, r, s, err)
				return
			}
			if !s.CheckCSRF(r.PostForm.Get("csrf")) {
				c.failErr(w, r, s, ErrCSRF)
				return
			}
		}
		h(w, r, s)
	}
}

// parseForm reads a bounded urlencoded form.
func parseForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, MaxFormBytes)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return api.ErrBodyTooLarge
		}
		return fmt.Errorf("%w: form: %v", api.ErrBadQuery, err)
	}
	return nil
}

// formToken returns the pre-sign-in CSRF token of this browser, setting
// the cookie that carries it when there is none.
func formToken(w http.ResponseWriter, r *http.Request) string {
	if ck, err := r.Cookie(formCookie); err == nil && len(ck.Value) == 43 {
		return ck.Value
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("console: crypto/rand failed: " + err.Error())
	}
	t := base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(w, cookie(r, formCookie, t, 0))
	return t
}

// checkFormToken counts the post against its address's sign-in rate,
// reads the form and checks that its csrf field equals the form cookie
// (constant time); a POST from another site has neither.
func (c *Console) checkFormToken(w http.ResponseWriter, r *http.Request) error {
	if !c.signIns.allow(r) {
		return ErrSignInRateLimited
	}
	if err := parseForm(w, r); err != nil {
		return err
	}
	ck, err := r.Cookie(formCookie)
	got := r.PostForm.Get("csrf")
	if err != nil || got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(ck.Value)) != 1 {
		return ErrCSRF
	}
	return nil
}

type signInData struct {
	Email string
	// PasswordSet says the person just set a password through an invitation.
	PasswordSet bool
}

func (c *Console) signInPage(w http.ResponseWriter, r *http.Request) {
	d := signInData{PasswordSet: r.URL.Query().Get("password") == "set"}
	c.render(w, http.StatusOK, "sign-in", page{Title: "Sign in", CSRF: formToken(w, r), Data: d})
}

func (c *Console) signIn(w http.ResponseWriter, r *http.Request) {
	if err := c.checkFormToken(w, r); err != nil {
		c.failErr(w, r, nil, err)
		return
	}
	email := r.PostForm.Get("email")
	sid, _, err := c.lg.SignIn(r.Context(), email, r.PostForm.Get("password"))
	if err != nil {
		status, code, msg := describe(err)
		if status == http.StatusInternalServerError {
			c.failErr(w, r, nil, err)
			return
		}
		c.render(w, status, "sign-in", page{Title: "Sign in", CSRF: formToken(w, r), Data: signInData{Email: email},
			Error: &pageError{Status: status, Code: code, Message: msg}})
		return
	}
	http.SetCookie(w, cookie(r, sessionCookie, sid, int(ledger.SessionMaxLifetime/time.Second)))
	http.Redirect(w, r, Prefix, http.StatusSeeOther)
}

type inviteData struct{ Email, Token string }

func (c *Console) invitePage(w http.ResponseWriter, r *http.Request) {
	tok := r.PathValue("token")
	email, err := c.lg.CheckInvitation(r.Context(), tok)
	if err != nil {
		c.failErr(w, r, nil, err)
		return
	}
	c.render(w, http.StatusOK, "invite", page{Title: "Set your password", CSRF: formToken(w, r), Data: inviteData{Email: email, Token: tok}})
}

func (c *Console) acceptInvite(w http.ResponseWriter, r *http.Request) {
	if err := c.checkFormToken(w, r); err != nil {
		c.failErr(w, r, nil, err)
		return
	}
	tok := r.PathValue("token")
	pw := r.PostForm.Get("password")
	var err error
	if pw != r.PostForm.Get("confirm") {
		err = fmt.Errorf("%w: the two passwords differ", ledger.ErrInvalid)
	} else {
		err = c.lg.AcceptInvitation(r.Context(), tok, pw)
	}
	if err != nil {
		status, code, msg := describe(err)
		if status != http.StatusBadRequest {
			c.failErr(w, r, nil, err)
			return
		}
		email, _ := c.lg.CheckInvitation(r.Context(), tok)
		c.render(w, status, "invite", page{Title: "Set your password", CSRF: formToken(w, r), Data: inviteData{Email: email, Token: tok},
			Error: &pageError{Status: status, Code: code, Message: msg}})
		return
	}
	http.Redirect(w, r, Prefix+"sign-in?password=set", http.StatusSeeOther)
}

func (c *Console) signOut(w http.ResponseWriter, r *http.Request, s *ledger.Session) {
	if ck, err := r.Cookie(sessionCookie); err == nil {
		if err := c.lg.SignOut(r.Context(), ck.Value); err != nil {
			c.failErr(w, r, s, err)
			return
		}
	}
	http.SetCookie(w, cookie(r, sessionCookie, "", -1))
	http.Redirect(w, r, Prefix+"sign-in", http.StatusSeeOther)
}

func (c *Console) signOutEverywhere(w http.ResponseWriter, r *http.Request, s *ledger.Session) {
	if _, err := c.lg.SignOutEverywhere(r.Context(), s.Actor); err != nil {
		c.failErr(w, r, s, err)
		return
	}
	http.SetCookie(w, cookie(r, sessionCookie, "", -1))
	http.Redirect(w, r, Prefix+"sign-in", http.StatusSeeOther)
}
