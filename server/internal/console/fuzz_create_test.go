package console

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/tollgate-iot/tollgate/server/internal/ledger"
)

// FuzzParseCreateForm: any form either parses to a request with a count in
// 1..MaxBatch, lists within MaxCreateListItems and renew from on/off, or is
// refused with ledger.ErrInvalid; it never panics.
func FuzzParseCreateForm(f *testing.F) {
	f.Add("customer=acme&count=3&type=standard&billing=term&months=12&models=sensor-*")
	f.Add("count=" + strconv.Itoa(ledger.MaxBatch+1))
	f.Add("count=1&renew=on&max_offline_seconds=60&features=a,b%20c")
	f.Add("count=1&months=12&months=24")
	f.Add("count=-1&days=99999999999999999999")
	f.Add("count=1&price=3")
	f.Add("count=%00&models=,,,")
	f.Fuzz(func(t *testing.T, raw string) {
		form, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		req, err := parseCreateForm(form)
		if err != nil {
			if req != nil {
				t.Fatal("a refused form returned a request")
			}
			if !isInvalid(err) {
				t.Fatalf("refusal %v is not ErrInvalid", err)
			}
			return
		}
		if req.Count < 1 || req.Count > ledger.MaxBatch || len(req.Models) > MaxCreateListItems || len(req.Features) > MaxCreateListItems {
			t.Fatalf("accepted %+v", req)
		}
		if form.Get("renew") == "" && req.Renew != nil {
			t.Fatal("renew set from nothing")
		}
		if req.MaxOfflineSeconds != nil && *req.MaxOfflineSeconds < 0 {
			t.Fatal("negative max offline")
		}
	})
}

func isInvalid(err error) bool { return errors.Is(err, ledger.ErrInvalid) }

// FuzzConsoleLicenseDeviceForms posts arbitrary forms, with acme's admin's
// valid CSRF token, to the license page's actions, bulk create and the
// device blacklist: never a 500, and nothing of beta's changes (its
// license stays unlocked, unsuspended and beta's; its device stays off
// the blacklist; beta owns no more licenses).
func FuzzConsoleLicenseDeviceForms(f *testing.F) {
	w := newWorld(f)
	w.newDevice("beta", "dev-beta")
	sid, s, err := w.lg.SignIn(context.Background(), w.email["acme"], testPassword)
	if err != nil {
		f.Fatal(err)
	}
	owned := func() int {
		ls, _, err := w.lg.ListLicenses(context.Background(), w.actor["beta"], ledger.LicenseFilter{CustomerID: "beta", Limit: ledger.MaxPageSize})
		if err != nil {
			f.Fatal(err)
		}
		return len(ls)
	}
	betaOwned := owned()
	f.Add("licenses/"+w.betaLicense.ID+"/lock", "confirm=yes")
	f.Add("licenses/"+w.betaLicense.ID+"/suspend", "confirm=yes")
	f.Add("licenses/"+w.acmeLicense.ID+"/revoke", "confirm=yes")
	f.Add("licenses/new", "confirm=yes&customer=beta&count=3&type=standard&billing=term&models=a")
	f.Add("licenses/new", "count=1001&count=1")
	f.Add("devices/dev-beta/blacklist", "confirm=yes&reason=x")
	f.Add("devices/dev-beta/unblacklist", "confirm=yes")
	f.Add("devices/%2e%2e/blacklist", "confirm=yes&reason=%ff")
	f.Fuzz(func(t *testing.T, path, form string) {
		r := httptest.NewRequest(http.MethodPost, "/console/", strings.NewReader("csrf="+s.CSRF+"&"+form))
		r.URL.Path += path
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.AddCookie(&http.Cookie{Name: sessionCookie, Value: sid})
		rec := httptest.NewRecorder()
		w.h.ServeHTTP(rec, r)
		if rec.Code >= 500 {
			t.Fatalf("POST %s %q: %d %s", r.URL, form, rec.Code, rec.Body)
		}
		l, err := w.lg.GetLicense(context.Background(), w.actor["beta"], w.betaLicense.ID)
		if err != nil {
			t.Fatal(err)
		}
		if l.Locked || l.Suspended || l.CustomerID != "beta" {
			t.Fatalf("acme changed beta's license: %+v", l)
		}
		if d, err := w.lg.GetDevice(context.Background(), w.actor["beta"], "dev-beta"); err != nil || d.Blacklisted {
			t.Fatalf("acme blacklisted beta's device: %+v %v", d, err)
		}
		if owned() != betaOwned {
			t.Fatal("acme created licenses for beta")
		}
	})
}
