package console

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/shared/airgap"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// upload posts a multipart form: fields and one file per name.
func (w *world) upload(c *http.Client, path string, fields map[string]string, files map[string][]byte) (int, http.Header, string) {
	w.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	for k, b := range files {
		fw, _ := mw.CreateFormFile(k, k+".txt")
		fw.Write(b)
	}
	mw.Close()
	res, err := c.Post(w.srv.URL+path, mw.FormDataContentType(), &buf)
	if err != nil {
		w.t.Fatal(err)
	}
	return res.StatusCode, res.Header, body(w.t.(*testing.T), res)
}

// TestConsoleCustomerPeople: dist's admin adds a customer below it and
// invites a user there (the link shown once, where the person
// sets a password), gives that user a new link and revokes them behind a
// confirm step; acme's admin sets acme's own settings — all through the
// ledger's calls.
func TestConsoleCustomerPeople(t *testing.T) {
	w := newWorld(t)
	bg := context.Background()
	c := w.client()
	tok := w.sessionCSRF(c, w.email["dist"])
	status, _ := w.post(c, "/console/customers", url.Values{"csrf": {tok}, "parent": {"dist"}, "id": {"gamma"}, "name": {"Gamma Water"}})
	if status != http.StatusSeeOther {
		t.Fatalf("create: %d", status)
	}
	if status, b := w.getPage(c, "/console/customers/gamma?done=created"); status != http.StatusOK || !strings.Contains(b, `id="customer-id">gamma<`) || !strings.Contains(b, "Customer created.") {
		t.Fatalf("the new customer's page: %d", status)
	}
	// Its settings are the customer's own: acme's admin sets acme's report
	// e-mail and lets the customers above it manage.
	a := w.client()
	atok := w.sessionCSRF(a, w.email["acme"])
	if status, _ = w.post(a, "/console/customers/acme", url.Values{"csrf": {atok}, "name": {"acme"}, "email": {"ops@acme.test"},
		"address": {""}, "allow_superior_manage_set": {"1"}, "allow_superior_manage": {"on"}}); status != http.StatusSeeOther {
		t.Fatalf("settings: %d", status)
	}
	if g, err := w.lg.GetCustomer(bg, w.actor["acme"], "acme"); err != nil || g.Email != "ops@acme.test" || !g.AllowSuperiorManage {
		t.Fatalf("acme %+v, %v", g, err)
	}
	status, b := w.post(c, "/console/customers/gamma/users", url.Values{"csrf": {tok}, "email": {"ann@gamma.test"}, "role": {"operator"}})
	link := regexp.MustCompile(`id="invitation-link">[^<]*(/console/invite/[^<]+)<`).FindStringSubmatch(b)
	if status != http.StatusCreated || link == nil || !strings.Contains(b, "hand the link to the person yourself") {
		t.Fatalf("invite: %d, link %v", status, link)
	}
	if res, err := w.client().Get(w.srv.URL + link[1]); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("the invitation link: %v %v", res, err)
	}
	users, err := w.lg.ListUsers(bg, w.actor["dist"], "gamma")
	if err != nil || len(users) != 1 || users[0].Role != ledger.RoleOperator {
		t.Fatalf("gamma's users %+v, %v", users, err)
	}
	// acme's admin manages acme's people: invites Bob, gives him a new
	// link, revokes him behind a confirm step.
	if status, _ = w.post(a, "/console/customers/acme/users", url.Values{"csrf": {atok}, "email": {"bob@acme.test"}, "role": {"viewer"}}); status != http.StatusCreated {
		t.Fatalf("acme's invite: %d", status)
	}
	var bob ledger.User
	all, _ := w.lg.ListUsers(bg, w.actor["acme"], "acme")
	for _, u := range all {
		if u.Email == "bob@acme.test" {
			bob = u
		}
	}
	if status, b = w.post(a, "/console/users/"+bob.ID+"/reset", url.Values{"csrf": {atok}, "customer": {"acme"}}); status != http.StatusOK || !strings.Contains(b, `id="invitation-link"`) {
		t.Fatalf("reset: %d", status)
	}
	if status, b = w.post(a, "/console/users/"+bob.ID+"/revoke", url.Values{"csrf": {atok}, "customer": {"acme"}}); status != http.StatusOK || !strings.Contains(b, `id="confirm-revoke"`) {
		t.Fatalf("revoke's confirm step: %d", status)
	}
	revoked := func() bool {
		all, _ := w.lg.ListUsers(bg, w.actor["acme"], "acme")
		for _, u := range all {
			if u.ID == bob.ID {
				return u.Revoked
			}
		}
		return false
	}
	if revoked() {
		t.Fatal("revoked before the confirm")
	}
	if status, _ = w.post(a, "/console/users/"+bob.ID+"/revoke", url.Values{"csrf": {atok}, "customer": {"acme"}, "confirm": {"yes"}}); status != http.StatusSeeOther || !revoked() {
		t.Fatalf("revoke: %d, revoked %v", status, revoked())
	}
}

// TestConsoleCustomerPeopleRefusals: a hostile tenant gets the ledger's
// answers — acme's admin asking for beta's page, or inviting into beta, gets
// not_found; a viewer of acme inviting gets forbidden; dist switching
// acme's allow_superior_manage (acme's own consent), or renaming acme
// (read-only below without that consent), is forbidden; a post
// without the CSRF token is refused before the ledger is asked.
func TestConsoleCustomerPeopleRefusals(t *testing.T) {
	w := newWorld(t)
	bg := context.Background()
	a := w.client()
	atok := w.sessionCSRF(a, w.email["acme"])
	if status, b := w.getPage(a, "/console/customers/beta"); status != http.StatusNotFound || !strings.Contains(b, `id="error-code">not_found<`) {
		t.Fatalf("sibling's page: %d", status)
	}
	if status, _ := w.post(a, "/console/customers/beta/users", url.Values{"csrf": {atok}, "email": {"x@beta.test"}, "role": {"admin"}}); status != http.StatusNotFound {
		t.Fatalf("inviting into a sibling: %d", status)
	}
	w.person(w.actor["acme"], "acme", "viewer@acme.test", ledger.RoleViewer)
	v := w.client()
	vtok := w.sessionCSRF(v, "viewer@acme.test")
	if status, b := w.post(v, "/console/customers/acme/users", url.Values{"csrf": {vtok}, "email": {"y@acme.test"}, "role": {"admin"}}); status != http.StatusForbidden || !strings.Contains(b, `id="error-code">forbidden<`) {
		t.Fatalf("viewer's invite: %d", status)
	}
	d := w.client()
	dtok := w.sessionCSRF(d, w.email["dist"])
	for _, f := range []url.Values{
		{"csrf": {dtok}, "name": {"acme"}, "allow_superior_manage_set": {"1"}, "allow_superior_manage": {"on"}}, // acme's consent
		{"csrf": {dtok}, "name": {"renamed by dist"}, "allow_superior_manage_set": {"1"}},                       // read-only below without it
	} {
		if status, b := w.post(d, "/console/customers/acme", f); status != http.StatusForbidden || !strings.Contains(b, `id="error-code">forbidden<`) {
			t.Fatalf("dist changing acme %v: %d", f, status)
		}
	}
	if status, b := w.post(a, "/console/customers/acme/users", url.Values{"email": {"z@acme.test"}, "role": {"admin"}}); status != http.StatusForbidden || !strings.Contains(b, "csrf_token_invalid") {
		t.Fatalf("invite without CSRF: %d", status)
	}
	if acme, err := w.lg.GetCustomer(bg, w.actor["acme"], "acme"); err != nil || acme.AllowSuperiorManage || acme.Name != "acme" {
		t.Fatalf("acme %+v, %v", acme, err)
	}
	if users, err := w.lg.ListUsers(bg, w.actor["acme"], "acme"); err != nil || len(users) != 2 {
		t.Fatalf("acme's users after refused invites: %d, %v", len(users), err)
	}
}

// TestConsoleAirGap: acme's admin uploads a device's activation request
// with a license and gets the signed activation key file; uploads the
// device's usage receipt and sees what it reconciled, and the same receipt
// again is a duplicate that changes nothing; garbage, a sibling's receipt and a
// post without its CSRF token are refused with their codes.
func TestConsoleAirGap(t *testing.T) {
	w := newWorld(t)
	bg := context.Background()
	c := w.client()
	tok := w.sessionCSRF(c, w.email["acme"])
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	req, err := airgap.SignActivationRequest(priv, &airgap.ActivationRequest{DeviceID: "site-1", Model: "sensor-x",
		PublicKey: token.EncodePublicKey(priv.Public().(ed25519.PublicKey)), CreatedAt: w.le.Clock.Now().Unix()})
	if err != nil {
		t.Fatal(err)
	}
	lic := w.acmeLicense.ID
	status, h, b := w.upload(c, "/console/air-gap/activate", map[string]string{"csrf": tok, "license": lic}, map[string][]byte{"request": req})
	if status != http.StatusOK || !strings.Contains(h.Get("Content-Disposition"), `site-1.activation`) {
		t.Fatalf("activate: %d %s", status, b)
	}
	trust, err := w.le.Keys.Trust()
	if err != nil {
		t.Fatal(err)
	}
	if k, err := airgap.OpenActivationKey(trust, []byte(b)); err != nil || k.DeviceID != "site-1" || len(k.Tokens) != 1 {
		t.Fatalf("the key file: %+v, %v", k, err)
	}
	signer, _ := token.NewSigner(priv)
	at := w.le.Clock.Now().Add(-1)
	receipt, err := airgap.SignUsageReceipt(signer, &syncproto.Report{DeviceID: "site-1", Nonce: "AAAAAAAAAAAAAAAAAAAAAQ", SentAt: at.Unix(),
		Tokens: []syncproto.TokenVersion{}, Counts: []syncproto.HourlyCount{},
		Deductions: []syncproto.Deduction{}})
	if err != nil {
		t.Fatal(err)
	}
	for i, dup := range []string{"no", "yes"} {
		status, _, b = w.upload(c, "/console/air-gap/usage", map[string]string{"csrf": tok}, map[string][]byte{"receipt": receipt})
		if status != http.StatusOK || !strings.Contains(b, `id="imp-duplicate">`+dup+`<`) {
			t.Fatalf("import %d: %d, want duplicate %s", i, status, dup)
		}
	}
	for _, tc := range []struct {
		name  string
		files map[string][]byte
		csrf  string
		code  string
	}{
		{"error/garbage", map[string][]byte{"receipt": []byte("not a receipt")}, tok, "malformed"},
		{"error/no-file", map[string][]byte{}, tok, "invalid_argument"},
		{"error/no-csrf", map[string][]byte{"receipt": receipt}, "", "csrf_token_invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, _, b := w.upload(c, "/console/air-gap/usage", map[string]string{"csrf": tc.csrf}, tc.files)
			if status < 400 || !strings.Contains(b, tc.code) {
				t.Fatalf("%d, want %s", status, tc.code)
			}
		})
	}
	// beta's admin cannot import acme's device's receipt: not found.
	bc := w.client()
	btok := w.sessionCSRF(bc, w.email["beta"])
	if status, _, _ := w.upload(bc, "/console/air-gap/usage", map[string]string{"csrf": btok}, map[string][]byte{"receipt": receipt}); status != http.StatusNotFound {
		t.Fatalf("sibling's import: %d", status)
	}
	if _, err := w.lg.GetDevice(bg, w.actor["acme"], "site-1"); err != nil {
		t.Fatalf("the activated device: %v", err)
	}
	// An upload over the limit is refused by size.
	big := bytes.Repeat([]byte("x"), MaxUploadBytes+1)
	if status, _, b := w.upload(c, "/console/air-gap/usage", map[string]string{"csrf": tok}, map[string][]byte{"receipt": big}); status != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized upload: %d %.200s", status, b)
	}
}
