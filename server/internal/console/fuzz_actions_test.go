package console

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzConsoleSignedInForms sends arbitrary forms, with the session's valid
// CSRF token, to the signed-in forms this file's pages post (batch, bind,
// unbind) and arbitrary queries to the sales and audit pages, as acme's
// admin: never a 500, and beta's license is never changed.
func FuzzConsoleSignedInForms(f *testing.F) {
	w := newWorld(f)
	sid, s, err := w.lg.SignIn(context.Background(), w.email["acme"], testPassword)
	if err != nil {
		f.Fatal(err)
	}
	f.Add("licenses/batch", "action=lock&id="+w.acmeLicense.ID, "")
	f.Add("licenses/batch", "action=return&confirm=yes&id="+w.betaLicense.ID+"&id="+w.acmeLicense.ID, "")
	f.Add("licenses/batch", "action=renew-off&confirm=yes&id=%00&id=", "method=sell")
	f.Add("licenses/"+w.acmeLicense.ID+"/bind", "device=dev-x&expire_replaced=yes", "from=2026-01-01&to=2025-01-01")
	f.Add("licenses/"+w.betaLicense.ID+"/unbind", "confirm=yes", "license=%ff&cursor=zz")
	f.Add("licenses/batch", "action=lock;id=x", "limit=-1")
	f.Fuzz(func(t *testing.T, path, form, query string) {
		for _, r := range []*http.Request{
			httptest.NewRequest(http.MethodPost, "/console/", strings.NewReader("csrf="+s.CSRF+"&"+form)),
			httptest.NewRequest(http.MethodGet, "/console/sales", nil),
			httptest.NewRequest(http.MethodGet, "/console/audit", nil),
		} {
			if r.Method == http.MethodPost {
				r.URL.Path += path
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			} else {
				r.URL.RawQuery = query
			}
			r.AddCookie(&http.Cookie{Name: sessionCookie, Value: sid})
			rec := httptest.NewRecorder()
			w.h.ServeHTTP(rec, r)
			if rec.Code >= 500 {
				t.Fatalf("%s %s %q: %d %s", r.Method, r.URL, form, rec.Code, rec.Body)
			}
		}
		l, err := w.lg.GetLicense(context.Background(), w.actor["beta"], w.betaLicense.ID)
		if err != nil {
			t.Fatal(err)
		}
		if l.Locked || l.CustomerID != "beta" || l.DeviceID != "" {
			t.Fatalf("acme changed beta's license: %+v", l)
		}
	})
}
