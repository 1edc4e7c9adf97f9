package console

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzConsolePeopleAndUploads sends arbitrary forms, with acme's admin's
// valid CSRF token, to the customer and people forms, and arbitrary files
// and bodies to the air-gap uploads: never a 500, and nothing of beta's
// changes.
func FuzzConsolePeopleAndUploads(f *testing.F) {
	w := newWorld(f)
	sid, s, err := w.lg.SignIn(context.Background(), w.email["acme"], testPassword)
	if err != nil {
		f.Fatal(err)
	}
	f.Add("customers/acme", "name=x&allow_superior_manage_set=1&allow_superior_manage=on", []byte("tg1"), "license=x")
	f.Add("customers/beta/users", "email=a@b.test&role=admin", []byte("-----BEGIN TOLLGATE USAGE RECEIPT-----\n"), "")
	f.Add("customers", "parent=beta&id=zz&name=zz", []byte{0, 1, 2}, "license="+w.betaLicense.ID)
	f.Add("users/u-x/revoke", "customer=beta&confirm=yes", []byte(""), "")
	f.Fuzz(func(t *testing.T, path, form string, file []byte, field string) {
		r := httptest.NewRequest(http.MethodPost, "/console/", strings.NewReader("csrf="+s.CSRF+"&"+form))
		r.URL.Path += path
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		reqs := []*http.Request{r}
		for _, up := range []struct{ path, name string }{{"air-gap/usage", "receipt"}, {"air-gap/activate", "request"}} {
			var buf bytes.Buffer
			mw := multipart.NewWriter(&buf)
			mw.WriteField("csrf", s.CSRF)
			if k, v, ok := strings.Cut(field, "="); ok {
				mw.WriteField(k, v)
			}
			fw, _ := mw.CreateFormFile(up.name, "f")
			fw.Write(file)
			mw.Close()
			u := httptest.NewRequest(http.MethodPost, "/console/"+up.path, &buf)
			u.Header.Set("Content-Type", mw.FormDataContentType())
			reqs = append(reqs, u)
		}
		raw := httptest.NewRequest(http.MethodPost, "/console/air-gap/usage", bytes.NewReader(file))
		raw.Header.Set("Content-Type", "multipart/form-data; boundary="+field)
		reqs = append(reqs, raw)
		for _, r := range reqs {
			r.AddCookie(&http.Cookie{Name: sessionCookie, Value: sid})
			rec := httptest.NewRecorder()
			w.h.ServeHTTP(rec, r)
			if rec.Code >= 500 {
				t.Fatalf("%s %q: %d %s", r.URL, form, rec.Code, rec.Body)
			}
		}
		users, err := w.lg.ListUsers(context.Background(), w.actor["beta"], "beta")
		if err != nil || len(users) != 1 || users[0].Revoked {
			t.Fatalf("beta's users changed: %+v, %v", users, err)
		}
	})
}
