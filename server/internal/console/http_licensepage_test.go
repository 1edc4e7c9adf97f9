package console

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/shared/token"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// paidDays gives acme a days license bound to dev-d that paid two days,
// and returns it.
func (w *world) paidDays() ledger.LicenseView {
	w.t.Helper()
	ctx := context.Background()
	w.newDevice("acme", "dev-d")
	ls, err := w.lg.CreateLicenses(ctx, w.actor["dist"], ledger.LicenseInput{CustomerID: "acme", Type: token.TypeStandard,
		Billing: token.BillingDays, Days: 5, Models: []string{"sensor-*"}})
	if err != nil {
		w.t.Fatal(err)
	}
	if _, err := w.lg.Bind(ctx, w.actor["acme"], ls[0].ID, ledger.BindInput{DeviceID: "dev-d"}); err != nil {
		w.t.Fatal(err)
	}
	for seq := int64(1); seq <= 2; seq++ {
		if _, err := w.lg.Deduct(ctx, ledger.DeductInput{DeviceID: "dev-d", Seq: seq}); err != nil {
			w.t.Fatal(err)
		}
	}
	return ls[0]
}

// TestConsoleLicensePageShowsDeductionsAndToken: the page lists the days
// ListDeductions returns, newest first, and the token link downloads the
// license's current token as a file: the body GET /v1/licenses/{id}/token
// answers.
func TestConsoleLicensePageShowsDeductionsAndToken(t *testing.T) {
	w := newWorld(t)
	l := w.paidDays()
	c := w.client()
	w.signIn(c, w.email["acme"])
	status, b := w.getPage(c, "/console/licenses/"+l.ID)
	if status != http.StatusOK || !strings.Contains(b, `id="deductions"`) || !strings.Contains(b, "4 → 3") || !strings.Contains(b, "5 → 4") ||
		strings.Index(b, "4 → 3") > strings.Index(b, "5 → 4") || !strings.Contains(b, `id="notices"`) {
		t.Fatalf("license page: %d %s", status, b)
	}
	res, err := c.Get(w.srv.URL + "/console/licenses/" + l.ID + "/token")
	if err != nil {
		t.Fatal(err)
	}
	file := body(t, res)
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Disposition"), "attachment;") ||
		!strings.Contains(res.Header.Get("Content-Disposition"), l.Serial) {
		t.Fatalf("token download: %d %v", res.StatusCode, res.Header)
	}
	want, err := w.lg.LicenseToken(context.Background(), w.actor["acme"], l.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantBody, _ := json.Marshal(wire.LicenseToken{LicenseID: want.LicenseID, DeviceID: want.DeviceID, Version: want.Version, NotAfter: want.NotAfter, Token: want.Token})
	if file != string(wantBody)+"\n" {
		t.Fatalf("token file %q, want the API's body %q", file, wantBody)
	}
}

// TestConsoleTokenDownloadSiblingNotFound: acme's admin asks for beta's
// license's token by id: not found, as the API answers, and no token.
func TestConsoleTokenDownloadSiblingNotFound(t *testing.T) {
	w := newWorld(t)
	c := w.client()
	w.signIn(c, w.email["acme"])
	status, b := w.getPage(c, "/console/licenses/"+w.betaLicense.ID+"/token")
	if status != http.StatusNotFound || !strings.Contains(b, "not_found") || strings.Contains(b, `"token"`) {
		t.Fatalf("sibling's token: %d %s", status, b)
	}
}

// TestConsoleViewerPostingLockForbidden: a viewer of acme posts lock on
// acme's unused license with a valid token: 403 forbidden shown on the
// license page, and the license stays unlocked.
func TestConsoleViewerPostingLockForbidden(t *testing.T) {
	w := newWorld(t)
	w.person(w.actor["acme"], "acme", "viewer@acme.test", ledger.RoleViewer)
	c := w.client()
	tok := w.sessionCSRF(c, "viewer@acme.test")
	status, b := w.post(c, "/console/licenses/"+w.acmeLicense.ID+"/lock", url.Values{"csrf": {tok}})
	if status != http.StatusForbidden || !strings.Contains(b, `id="error-code">forbidden<`) {
		t.Fatalf("viewer lock: %d %s", status, b)
	}
	if w.get(w.actor["acme"], w.acmeLicense.ID).Locked {
		t.Fatal("a viewer locked a license")
	}
}

// TestConsoleLicenseActionNeedsCSRF: lock without the form's token is 403
// csrf_token_invalid and locks nothing.
func TestConsoleLicenseActionNeedsCSRF(t *testing.T) {
	w := newWorld(t)
	c := w.client()
	w.signIn(c, w.email["acme"])
	status, b := w.post(c, "/console/licenses/"+w.acmeLicense.ID+"/lock", url.Values{})
	if status != http.StatusForbidden || !strings.Contains(b, "csrf_token_invalid") {
		t.Fatalf("lock without a token: %d", status)
	}
	if w.get(w.actor["acme"], w.acmeLicense.ID).Locked {
		t.Fatal("a post without a token locked")
	}
}

// TestConsoleLockUnlockAndRenew: acme's admin locks and unlocks its unused
// license (no confirm step) and switches renewal off (confirmed) and on.
func TestConsoleLockUnlockAndRenew(t *testing.T) {
	w := newWorld(t)
	c := w.client()
	tok := w.sessionCSRF(c, w.email["acme"])
	id := w.acmeLicense.ID
	act := func(name string, confirm bool) {
		t.Helper()
		f := url.Values{"csrf": {tok}}
		if confirm {
			f.Set("confirm", "yes")
		}
		if status, b := w.post(c, "/console/licenses/"+id+"/"+name, f); status != http.StatusSeeOther {
			t.Fatalf("%s: %d %s", name, status, b)
		}
	}
	act("lock", false)
	if !w.get(w.actor["acme"], id).Locked {
		t.Fatal("not locked")
	}
	act("unlock", false)
	if w.get(w.actor["acme"], id).Locked {
		t.Fatal("not unlocked")
	}
	// Renew off asks first.
	status, b := w.post(c, "/console/licenses/"+id+"/renew-off", url.Values{"csrf": {tok}})
	if status != http.StatusOK || !strings.Contains(b, `id="confirm-text"`) || !w.get(w.actor["acme"], id).Renew {
		t.Fatalf("renew off without confirm: %d, renew %v", status, w.get(w.actor["acme"], id).Renew)
	}
	act("renew-off", true)
	if w.get(w.actor["acme"], id).Renew {
		t.Fatal("renewal still on")
	}
	act("renew-on", false)
	if !w.get(w.actor["acme"], id).Renew {
		t.Fatal("renewal still off")
	}
	if status, b := w.getPage(c, "/console/licenses/"+id+"?done=renew-on"); status != http.StatusOK || !strings.Contains(b, "Renewal is on.") {
		t.Fatalf("the page after renew on: %d", status)
	}
}

// TestConsoleRevokeConfirmedAndVendorOnly: revoke asks to confirm; acme's
// admin's confirmed revoke is refused with the API's code (only the vendor
// revokes); the vendor's admin revokes it.
func TestConsoleRevokeConfirmedAndVendorOnly(t *testing.T) {
	w := newWorld(t)
	id := w.acmeLicense.ID
	c := w.client()
	tok := w.sessionCSRF(c, w.email["acme"])
	status, b := w.post(c, "/console/licenses/"+id+"/revoke", url.Values{"csrf": {tok}})
	if status != http.StatusOK || !strings.Contains(b, "cannot be undone") || w.get(w.actor["acme"], id).Status == ledger.StatusRevoked {
		t.Fatalf("revoke without confirm: %d %s", status, b)
	}
	status, b = w.post(c, "/console/licenses/"+id+"/revoke", url.Values{"csrf": {tok}, "confirm": {"yes"}})
	if status != http.StatusForbidden || !strings.Contains(b, `id="error-code">forbidden<`) || w.get(w.actor["acme"], id).Status == ledger.StatusRevoked {
		t.Fatalf("acme's revoke: %d %s", status, b)
	}
	w.person(w.actor["root"], "root", "admin@root.test", ledger.RoleAdmin)
	v := w.client()
	vtok := w.sessionCSRF(v, "admin@root.test")
	if status, b := w.post(v, "/console/licenses/"+id+"/revoke", url.Values{"csrf": {vtok}, "confirm": {"yes"}}); status != http.StatusSeeOther {
		t.Fatalf("vendor's revoke: %d %s", status, b)
	}
	if st := w.get(w.actor["acme"], id).Status; st != ledger.StatusRevoked {
		t.Fatalf("after the vendor's revoke: %s", st)
	}
}

// TestConsoleSiblingLicenseActionNotFound: acme's admin posts suspend and
// lock on beta's license: not found, nothing changes.
func TestConsoleSiblingLicenseActionNotFound(t *testing.T) {
	w := newWorld(t)
	c := w.client()
	tok := w.sessionCSRF(c, w.email["acme"])
	for _, a := range []string{"lock", "suspend"} {
		status, b := w.post(c, "/console/licenses/"+w.betaLicense.ID+"/"+a, url.Values{"csrf": {tok}, "confirm": {"yes"}})
		if status != http.StatusNotFound || !strings.Contains(b, "not_found") {
			t.Fatalf("%s on a sibling's license: %d", a, status)
		}
	}
	if l := w.get(w.actor["beta"], w.betaLicense.ID); l.Locked || l.Suspended {
		t.Fatalf("acme changed beta's license: %+v", l)
	}
}

// TestConsoleDashboardRecentHidesSiblings: acme's paid days are on acme's
// and dist's dashboards, each a link to the license, and not on beta's.
func TestConsoleDashboardRecentHidesSiblings(t *testing.T) {
	w := newWorld(t)
	l := w.paidDays()
	link := `<a href="/console/licenses/` + l.ID + `">` + l.Serial + `</a>`
	for _, who := range []string{"acme", "dist"} {
		c := w.client()
		w.signIn(c, w.email[who])
		status, b := w.getPage(c, "/console/")
		if n := strings.Count(section(b, `id="recent-deductions"`), link); status != http.StatusOK || n != 2 {
			t.Fatalf("%s's dashboard: %d, %d recent deductions link to %s", who, status, n, l.Serial)
		}
	}
	c := w.client()
	w.signIn(c, w.email["beta"])
	if _, b := w.getPage(c, "/console/"); strings.Contains(b, l.ID) || !strings.Contains(b, "No days charged recently.") {
		t.Fatal("beta's dashboard shows acme's deductions")
	}
}

// section is the table of b that starts at marker, up to its end.
func section(b, marker string) string {
	i := strings.Index(b, marker)
	if i < 0 {
		return ""
	}
	b = b[i:]
	if j := strings.Index(b, "</table>"); j >= 0 {
		return b[:j]
	}
	return b
}
