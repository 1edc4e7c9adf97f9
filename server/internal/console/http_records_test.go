package console

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/tollgate-iot/tollgate/server/internal/ledger"
)

// getPage GETs a console page with a signed-in client.
func (w *world) getPage(c *http.Client, path string) (int, string) {
	w.t.Helper()
	res, err := c.Get(w.srv.URL + path)
	if err != nil {
		w.t.Fatal(err)
	}
	return res.StatusCode, body(w.t.(*testing.T), res)
}

// recordsWorld adds a sale to each of acme and beta and a lock by beta's
// admin, and returns the two sales.
func recordsWorld(t *testing.T) (*world, *ledger.Sale, *ledger.Sale) {
	w := newWorld(t)
	bg := context.Background()
	toAcme, err := w.lg.Sell(bg, w.actor["dist"], ledger.BatchInput{CustomerID: "acme", Count: 1})
	if err != nil {
		t.Fatal(err)
	}
	toBeta, err := w.lg.Sell(bg, w.actor["dist"], ledger.BatchInput{CustomerID: "beta", Count: 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.lg.SetLock(bg, w.actor["beta"], w.betaLicense.ID, true); err != nil {
		t.Fatal(err)
	}
	return w, toAcme, toBeta
}

// TestConsoleSalesPageHidesSiblings: acme's sales page lists the sale to
// acme and never the sale to its sibling beta (nor its licenses), even
// when asked for one of beta's licenses; dist's page lists both.
func TestConsoleSalesPageHidesSiblings(t *testing.T) {
	w, toAcme, toBeta := recordsWorld(t)
	c := w.client()
	w.signIn(c, w.email["acme"])
	status, b := w.getPage(c, "/console/sales")
	if status != http.StatusOK || !strings.Contains(b, toAcme.LicenseIDs[0]) {
		t.Fatalf("acme's sales page: %d, missing its own sale", status)
	}
	for _, id := range toBeta.LicenseIDs {
		if strings.Contains(b, id) {
			t.Fatalf("acme's sales page shows beta's license %s", id)
		}
	}
	if strings.Contains(b, ">beta<") {
		t.Fatal("acme's sales page names beta")
	}
	status, b = w.getPage(c, "/console/sales?license="+toBeta.LicenseIDs[0]+"&method=sell&from=&to=")
	if status != http.StatusOK || !strings.Contains(b, "No sales record matches.") {
		t.Fatalf("acme asking for beta's license: %d", status)
	}
	// The distributor sees both; the method filter and the API's checks apply.
	d := w.client()
	w.signIn(d, w.email["dist"])
	if _, b := w.getPage(d, "/console/sales?method=sell"); !strings.Contains(b, toAcme.LicenseIDs[0]) || !strings.Contains(b, toBeta.LicenseIDs[0]) {
		t.Fatal("dist's sales page misses a sale it made")
	}
	if status, b := w.getPage(d, "/console/sales?method=gift"); status != http.StatusBadRequest || !strings.Contains(b, "invalid_parameter") {
		t.Fatalf("unknown method: %d", status)
	}
	if status, b := w.getPage(d, "/console/sales?from=2026-03-10&to=2026-03-01"); status != http.StatusBadRequest || !strings.Contains(b, "invalid_parameter") {
		t.Fatalf("to before from: %d", status)
	}
}

// TestConsoleAuditPageHidesSiblings: beta's lock of its license is in
// dist's audit page and never in acme's.
func TestConsoleAuditPageHidesSiblings(t *testing.T) {
	w, _, _ := recordsWorld(t)
	c := w.client()
	w.signIn(c, w.email["acme"])
	status, b := w.getPage(c, "/console/audit")
	if status != http.StatusOK || !strings.Contains(b, "<td>license.sell</td>") {
		t.Fatalf("acme's audit page: %d, missing the sale to acme", status)
	}
	if strings.Contains(b, w.betaLicense.ID) || strings.Contains(b, "license.lock") {
		t.Fatal("acme's audit page shows beta's lock")
	}
	d := w.client()
	w.signIn(d, w.email["dist"])
	if _, b := w.getPage(d, "/console/audit"); !strings.Contains(b, "license.lock") || !strings.Contains(b, w.betaLicense.ID) {
		t.Fatal("dist's audit page misses beta's lock")
	}
	if status, b := w.getPage(d, "/console/audit?limit=x"); status != http.StatusBadRequest || !strings.Contains(b, "invalid_parameter") {
		t.Fatalf("bad limit: %d", status)
	}
}

// TestConsoleCustomersTree: dist sees itself with acme and beta below it,
// each linking to its page and its licenses; acme sees only itself.
func TestConsoleCustomersTree(t *testing.T) {
	w := newWorld(t)
	c := w.client()
	w.signIn(c, w.email["dist"])
	status, b := w.getPage(c, "/console/customers")
	tree := `<li data-id="dist"><a href="/console/customers/dist">dist</a> (<a href="/console/licenses?customer=dist" aria-label="Licenses of dist">licenses</a>) <code>dist</code> · issuer
<ul><li data-id="acme"><a href="/console/customers/acme">acme</a> (<a href="/console/licenses?customer=acme" aria-label="Licenses of acme">licenses</a>) <code>acme</code>`
	if status != http.StatusOK || !strings.Contains(b, tree) || !strings.Contains(b, `<li data-id="beta">`) {
		t.Fatalf("dist's customers page: %d %s", status, b)
	}
	a := w.client()
	w.signIn(a, w.email["acme"])
	if _, b := w.getPage(a, "/console/customers"); !strings.Contains(b, `<li data-id="acme">`) || strings.Contains(b, `data-id="beta"`) || strings.Contains(b, `data-id="dist"`) {
		t.Fatalf("acme's customers page: %s", b)
	}
}
