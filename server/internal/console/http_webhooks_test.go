package console

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/tollgate-iot/tollgate/server/internal/ledger"
)

// TestConsoleWebhooksViewerRefused: a viewer of acme posting the create
// form gets the ledger's refusal (forbidden) with its message and nothing
// is created; the same form without its CSRF token is refused before the
// ledger is asked.
func TestConsoleWebhooksViewerRefused(t *testing.T) {
	w := newWorld(t)
	w.person(w.actor["acme"], "acme", "viewer@acme.test", ledger.RoleViewer)
	c := w.client()
	tok := w.sessionCSRF(c, "viewer@acme.test")
	form := url.Values{"csrf": {tok}, "url": {"https://203.0.113.7/in"}, "events": {"license.revoked", "device.blacklisted"}}
	status, b := w.post(c, "/console/webhooks", form)
	if status != http.StatusForbidden || !strings.Contains(b, `id="error-code">forbidden<`) || !strings.Contains(b, `id="create-webhook"`) {
		t.Fatalf("viewer's create: %d, want the form again with forbidden", status)
	}
	a := w.client()
	atok := w.sessionCSRF(a, w.email["acme"])
	form.Set("csrf", "")
	if status, b = w.post(a, "/console/webhooks", form); status != http.StatusForbidden || !strings.Contains(b, `id="error-code">csrf_token_invalid<`) {
		t.Fatalf("create without CSRF: %d", status)
	}
	if hooks, err := w.lg.ListWebhooks(context.Background(), w.actor["acme"], "acme"); err != nil || len(hooks) != 0 {
		t.Fatalf("acme has %d webhooks after refused creates (%v)", len(hooks), err)
	}
	// The admin's own create goes through, its secret shown once.
	form.Set("csrf", atok)
	status, b = w.post(a, "/console/webhooks", form)
	if status != http.StatusCreated || !regexp.MustCompile(`id="secret">[^<]{16,}<`).MatchString(b) {
		t.Fatalf("admin's create: %d", status)
	}
}

// TestConsoleWebhookSiblingNotFound: acme's admin asking for beta's
// endpoint — its page, its delete confirm step, the delete itself — gets
// not_found, and the endpoint is still there; acme's list never shows it.
func TestConsoleWebhookSiblingNotFound(t *testing.T) {
	w := newWorld(t)
	bg := context.Background()
	hook, _, err := w.lg.CreateWebhook(bg, w.actor["beta"], "beta", "https://203.0.113.8/beta-hook", []string{"license.revoked"})
	if err != nil {
		t.Fatal(err)
	}
	c := w.client()
	tok := w.sessionCSRF(c, w.email["acme"])
	if status, b := w.getPage(c, "/console/webhooks/"+hook.ID); status != http.StatusNotFound || !strings.Contains(b, `id="error-code">not_found<`) {
		t.Fatalf("sibling's endpoint page: %d", status)
	}
	for _, f := range []url.Values{{"csrf": {tok}}, {"csrf": {tok}, "confirm": {"yes"}}} {
		if status, b := w.post(c, "/console/webhooks/"+hook.ID+"/delete", f); status != http.StatusNotFound || !strings.Contains(b, `id="error-code">not_found<`) {
			t.Fatalf("sibling's delete %v: %d", f, status)
		}
	}
	if hooks, err := w.lg.ListWebhooks(bg, w.actor["beta"], "beta"); err != nil || len(hooks) != 1 {
		t.Fatalf("beta's endpoints after acme's delete: %d, %v", len(hooks), err)
	}
	if _, b := w.getPage(c, "/console/webhooks"); strings.Contains(b, hook.ID) || strings.Contains(b, "203.0.113.8") {
		t.Fatal("acme's webhooks page shows beta's endpoint")
	}
}

// TestConsoleWebhookDeleteConfirmed: the delete button asks first (the
// endpoint stays), "Yes" deletes it; the endpoint's page lists its
// deliveries as the ledger holds them.
func TestConsoleWebhookDeleteConfirmed(t *testing.T) {
	w := newWorld(t)
	bg := context.Background()
	hook, _, err := w.lg.CreateWebhook(bg, w.actor["acme"], "acme", "https://203.0.113.9/hook", []string{"license.revoked"})
	if err != nil {
		t.Fatal(err)
	}
	d, err := w.lg.TestWebhook(bg, w.actor["acme"], hook.ID)
	if err != nil {
		t.Fatal(err)
	}
	c := w.client()
	tok := w.sessionCSRF(c, w.email["acme"])
	if status, b := w.getPage(c, "/console/webhooks/"+hook.ID); status != http.StatusOK || !strings.Contains(b, `data-id="`+d.ID+`"`) {
		t.Fatalf("endpoint page: %d, no delivery %s", status, d.ID)
	}
	status, b := w.post(c, "/console/webhooks/"+hook.ID+"/delete", url.Values{"csrf": {tok}})
	if status != http.StatusOK || !strings.Contains(b, `id="confirm-delete"`) {
		t.Fatalf("delete without confirm: %d, want the confirm step", status)
	}
	if hooks, _ := w.lg.ListWebhooks(bg, w.actor["acme"], "acme"); len(hooks) != 1 {
		t.Fatal("the confirm step deleted the endpoint")
	}
	status, _ = w.post(c, "/console/webhooks/"+hook.ID+"/delete", url.Values{"csrf": {tok}, "confirm": {"yes"}})
	if status != http.StatusSeeOther {
		t.Fatalf("confirmed delete: %d", status)
	}
	if hooks, _ := w.lg.ListWebhooks(bg, w.actor["acme"], "acme"); len(hooks) != 0 {
		t.Fatal("the endpoint is still there")
	}
}
