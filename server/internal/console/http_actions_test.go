package console

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/shared/token"
)

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// sessionCSRF signs a plain client in as email and returns the CSRF token
// its pages' forms carry.
func (w *world) sessionCSRF(c *http.Client, email string) string {
	w.t.Helper()
	w.signIn(c, email)
	res, err := c.Get(w.srv.URL + "/console/")
	if err != nil {
		w.t.Fatal(err)
	}
	m := csrfField.FindStringSubmatch(body(w.t.(*testing.T), res))
	if m == nil {
		w.t.Fatal("the dashboard has no form with a csrf field")
	}
	return m[1]
}

func (w *world) post(c *http.Client, path string, form url.Values) (int, string) {
	w.t.Helper()
	res, err := c.PostForm(w.srv.URL+path, form)
	if err != nil {
		w.t.Fatal(err)
	}
	return res.StatusCode, body(w.t.(*testing.T), res)
}

func (w *world) standardOf(customer string) []ledger.LicenseView {
	w.t.Helper()
	ls, _, err := w.lg.ListLicenses(context.Background(), w.actor[customer], ledger.LicenseFilter{CustomerID: customer, Type: token.TypeStandard})
	if err != nil {
		w.t.Fatal(err)
	}
	return ls
}

// TestConsoleBatchSiblingLicenseRefused: acme's admin puts beta's license
// into a batch by its id. Lock: beta's row is refused not_found and stays
// unlocked while acme's own is locked. Return (all or none): the whole batch
// is refused not_found and nothing moves.
func TestConsoleBatchSiblingLicenseRefused(t *testing.T) {
	w := newWorld(t)
	c := w.client()
	tok := w.sessionCSRF(c, w.email["acme"])
	own := w.standardOf("acme")
	status, b := w.post(c, "/console/licenses/batch", url.Values{"csrf": {tok}, "action": {"lock"}, "confirm": {"yes"},
		"id": {own[0].ID, w.betaLicense.ID}})
	if status != http.StatusOK || !strings.Contains(b, `data-id="`+w.betaLicense.ID+`" data-outcome="not_found"`) ||
		!strings.Contains(b, `data-id="`+own[0].ID+`" data-outcome="ok"`) {
		t.Fatalf("batch lock with a sibling's license: %d %s", status, b)
	}
	if b := w.get(w.actor["beta"], w.betaLicense.ID); b.Locked {
		t.Fatal("acme locked beta's license")
	}
	if !w.get(w.actor["acme"], own[0].ID).Locked {
		t.Fatal("acme's own license was not locked")
	}
	before := sales(t, w)
	status, b = w.post(c, "/console/licenses/batch", url.Values{"csrf": {tok}, "action": {"return"}, "confirm": {"yes"},
		"id": {own[1].ID, w.betaLicense.ID}})
	if status != http.StatusOK || strings.Contains(b, `data-outcome="ok"`) || !strings.Contains(b, `data-outcome="not_found"`) {
		t.Fatalf("batch return with a sibling's license: %d %s", status, b)
	}
	if sales(t, w) != before || w.get(w.actor["acme"], own[1].ID).CustomerID != "acme" {
		t.Fatal("a refused return moved licenses")
	}
}

func (w *world) get(a ledger.Actor, id string) *ledger.LicenseView {
	w.t.Helper()
	l, err := w.lg.GetLicense(context.Background(), a, id)
	if err != nil {
		w.t.Fatal(err)
	}
	return l
}

// TestConsoleBatchReturnIsOneSale: returning two ticked licenses is one
// ledger Return: one sales record from acme to its parent dist holding both.
func TestConsoleBatchReturnIsOneSale(t *testing.T) {
	w := newWorld(t)
	c := w.client()
	tok := w.sessionCSRF(c, w.email["acme"])
	own := w.standardOf("acme")
	before := sales(t, w)
	status, b := w.post(c, "/console/licenses/batch", url.Values{"csrf": {tok}, "action": {"return"}, "confirm": {"yes"},
		"id": {own[0].ID, own[1].ID}})
	if status != http.StatusOK || strings.Count(b, `data-outcome="ok"`) != 2 {
		t.Fatalf("batch return: %d %s", status, b)
	}
	ss, _, err := w.lg.ListSales(context.Background(), w.actor["dist"], ledger.SaleFilter{Kind: ledger.SaleReturn, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if sales(t, w) != before+1 || len(ss) != 1 || ss[0].From != "acme" || ss[0].To != "dist" || len(ss[0].LicenseIDs) != 2 {
		t.Fatalf("sales after the return: %+v", ss)
	}
}

// TestConsoleBatchNeedsCSRFAndTicks: a batch post without the token is 403
// csrf_token_invalid and locks nothing; one without ticked licenses or with
// an unknown action is invalid_argument.
func TestConsoleBatchNeedsCSRFAndTicks(t *testing.T) {
	w := newWorld(t)
	c := w.client()
	tok := w.sessionCSRF(c, w.email["acme"])
	own := w.standardOf("acme")
	status, b := w.post(c, "/console/licenses/batch", url.Values{"action": {"lock"}, "confirm": {"yes"}, "id": {own[0].ID}})
	if status != http.StatusForbidden || !strings.Contains(b, "csrf_token_invalid") {
		t.Fatalf("batch without a token: %d", status)
	}
	if w.get(w.actor["acme"], own[0].ID).Locked {
		t.Fatal("a batch without a token locked")
	}
	for _, f := range []url.Values{
		{"csrf": {tok}, "action": {"lock"}, "confirm": {"yes"}},
		{"csrf": {tok}, "action": {"delete"}, "confirm": {"yes"}, "id": {own[0].ID}},
	} {
		if status, b := w.post(c, "/console/licenses/batch", f); status != http.StatusBadRequest || !strings.Contains(b, "invalid_argument") {
			t.Fatalf("%v: %d %s", f, status, b)
		}
	}
}
