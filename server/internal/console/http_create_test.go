package console

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/tollgate-iot/tollgate/server/internal/ledger"
)

func createForm(tok, customer string, count int) url.Values {
	return url.Values{"csrf": {tok}, "customer": {customer}, "count": {strconv.Itoa(count)}, "type": {"standard"},
		"billing": {"term"}, "months": {"12"}, "models": {"sensor-*, meter-*"}, "max_samples_per_hour": {"500"}}
}

func (w *world) owned(a ledger.Actor, customer string) int {
	w.t.Helper()
	ls, _, err := w.lg.ListLicenses(context.Background(), a, ledger.LicenseFilter{CustomerID: customer, Limit: ledger.MaxPageSize})
	if err != nil {
		w.t.Fatal(err)
	}
	return len(ls)
}

// TestConsoleCreateLicensesInBulk: dist's admin creates 3 licenses for
// acme; the first post only asks to confirm; the confirmed one creates 3
// and lists their serials, each a link.
func TestConsoleCreateLicensesInBulk(t *testing.T) {
	w := newWorld(t)
	c := w.client()
	tok := w.sessionCSRF(c, w.email["dist"])
	if status, b := w.getPage(c, "/console/licenses/new"); status != http.StatusOK || !strings.Contains(b, `id="create-form"`) {
		t.Fatalf("the create form: %d", status)
	}
	before := w.owned(w.actor["dist"], "acme")
	f := createForm(tok, "acme", 3)
	status, b := w.post(c, "/console/licenses/new", f)
	if status != http.StatusOK || !strings.Contains(b, `id="confirm-text"`) || w.owned(w.actor["dist"], "acme") != before {
		t.Fatalf("create without confirm: %d, %d licenses", status, w.owned(w.actor["dist"], "acme")-before)
	}
	f.Set("confirm", "yes")
	status, b = w.post(c, "/console/licenses/new", f)
	if status != http.StatusOK || !strings.Contains(b, `id="created-n">3<`) || w.owned(w.actor["dist"], "acme") != before+3 {
		t.Fatalf("create: %d %s", status, b)
	}
	ls, _, _ := w.lg.ListLicenses(context.Background(), w.actor["dist"], ledger.LicenseFilter{CustomerID: "acme", Limit: ledger.MaxPageSize})
	n := 0
	for _, l := range ls {
		if strings.Contains(b, `<a href="/console/licenses/`+l.ID+`">`+l.Serial+`</a>`) {
			n++
			if l.MaxSamplesPerHour != 500 || len(l.Models) != 2 {
				t.Fatalf("created %+v", l)
			}
		}
	}
	if n != 3 {
		t.Fatalf("%d created licenses are linked, want 3", n)
	}
}

// TestConsoleCreateOverMaxBatchRefused: a count over ledger.MaxBatch is
// refused invalid_argument (the API's code) and creates nothing.
func TestConsoleCreateOverMaxBatchRefused(t *testing.T) {
	w := newWorld(t)
	c := w.client()
	tok := w.sessionCSRF(c, w.email["dist"])
	before := w.owned(w.actor["dist"], "acme")
	f := createForm(tok, "acme", ledger.MaxBatch+1)
	f.Set("confirm", "yes")
	status, b := w.post(c, "/console/licenses/new", f)
	if status != http.StatusBadRequest || !strings.Contains(b, `id="error-code">invalid_argument<`) || !strings.Contains(b, strconv.Itoa(ledger.MaxBatch)) {
		t.Fatalf("count over the max: %d %s", status, b)
	}
	if w.owned(w.actor["dist"], "acme") != before {
		t.Fatal("an over-max batch created licenses")
	}
}

// TestConsoleCreateRefusals: what the ledger refuses is shown with the
// API's code: acme (not an issuer) creating, acme creating for its sibling
// beta, a viewer of dist creating, an unknown field; none creates.
func TestConsoleCreateRefusals(t *testing.T) {
	w := newWorld(t)
	w.person(w.actor["dist"], "dist", "viewer@dist.test", ledger.RoleViewer)
	tests := []struct {
		name, email, customer string
		extra                 url.Values
		status                int
		code                  string
	}{
		{"viewer", "viewer@dist.test", "acme", nil, http.StatusForbidden, "forbidden"},
		{"sibling", w.email["acme"], "beta", nil, http.StatusNotFound, "not_found"},
		{"unknown-field", w.email["dist"], "acme", url.Values{"price": {"1"}}, http.StatusBadRequest, "invalid_argument"},
		{"repeated-field", w.email["dist"], "acme", url.Values{"months": {"12", "24"}}, http.StatusBadRequest, "invalid_argument"},
		{"bad-renew", w.email["dist"], "acme", url.Values{"renew": {"maybe"}}, http.StatusBadRequest, "invalid_argument"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := w.owned(w.actor["dist"], tc.customer)
			c := w.client()
			f := createForm(w.sessionCSRF(c, tc.email), tc.customer, 2)
			f.Set("confirm", "yes")
			for k, v := range tc.extra {
				f[k] = v
			}
			status, b := w.post(c, "/console/licenses/new", f)
			if status != tc.status || !strings.Contains(b, `id="error-code">`+tc.code+`<`) {
				t.Fatalf("%d, want %d %s: %s", status, tc.status, tc.code, b)
			}
			if w.owned(w.actor["dist"], tc.customer) != before {
				t.Fatal("a refused create created licenses")
			}
		})
	}
}

// TestConsoleCreateNeedsCSRF: a create post without the token is refused
// and creates nothing.
func TestConsoleCreateNeedsCSRF(t *testing.T) {
	w := newWorld(t)
	c := w.client()
	w.signIn(c, w.email["dist"])
	before := w.owned(w.actor["dist"], "acme")
	f := createForm("", "acme", 2)
	f.Del("csrf")
	f.Set("confirm", "yes")
	if status, b := w.post(c, "/console/licenses/new", f); status != http.StatusForbidden || !strings.Contains(b, "csrf_token_invalid") {
		t.Fatalf("create without a token: %d", status)
	}
	if w.owned(w.actor["dist"], "acme") != before {
		t.Fatal("created without a token")
	}
}
