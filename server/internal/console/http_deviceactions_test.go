package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tollgate-iot/tollgate/server/internal/ledger"
)

func (w *world) device(id string) *ledger.Device {
	w.t.Helper()
	d, err := w.lg.GetDevice(context.Background(), w.actor["root"], id)
	if err != nil {
		w.t.Fatal(err)
	}
	return d
}

// TestConsoleBlacklistConfirmedAndCleared: acme's admin blacklists its
// device with a reason: the first post only asks, the confirmed one
// blacklists it with that reason; clearing asks too, then clears.
func TestConsoleBlacklistConfirmedAndCleared(t *testing.T) {
	w := newWorld(t)
	w.newDevice("acme", "dev-b")
	c := w.client()
	tok := w.sessionCSRF(c, w.email["acme"])
	if status, b := w.getPage(c, "/console/devices/dev-b"); status != http.StatusOK || !strings.Contains(b, `id="blacklist-form"`) {
		t.Fatalf("device page: %d", status)
	}
	status, b := w.post(c, "/console/devices/dev-b/blacklist", url.Values{"csrf": {tok}, "reason": {"stolen"}})
	if status != http.StatusOK || !strings.Contains(b, `id="confirm-text"`) || !strings.Contains(b, `value="stolen"`) || w.device("dev-b").Blacklisted {
		t.Fatalf("blacklist without confirm: %d %s", status, b)
	}
	status, _ = w.post(c, "/console/devices/dev-b/blacklist", url.Values{"csrf": {tok}, "reason": {"stolen"}, "confirm": {"yes"}})
	if d := w.device("dev-b"); status != http.StatusSeeOther || !d.Blacklisted || d.BlacklistReason != "stolen" {
		t.Fatalf("blacklist: %d %+v", status, d)
	}
	if status, b := w.getPage(c, "/console/devices/dev-b?done=blacklist"); status != http.StatusOK || !strings.Contains(b, "yes: stolen") ||
		!strings.Contains(b, `id="unblacklist-form"`) || !strings.Contains(b, `id="done"`) {
		t.Fatalf("device page after: %d %s", status, b)
	}
	status, _ = w.post(c, "/console/devices/dev-b/unblacklist", url.Values{"csrf": {tok}})
	if status != http.StatusOK || !w.device("dev-b").Blacklisted {
		t.Fatalf("clear without confirm: %d", status)
	}
	status, _ = w.post(c, "/console/devices/dev-b/unblacklist", url.Values{"csrf": {tok}, "confirm": {"yes"}})
	if status != http.StatusSeeOther || w.device("dev-b").Blacklisted {
		t.Fatalf("clear: %d", status)
	}
}

// TestConsoleBlacklistRefusals: beta's admin blacklisting acme's device is
// not found; acme's viewer is forbidden; a post without the token is
// refused; an over-long reason is invalid_argument. None blacklists.
func TestConsoleBlacklistRefusals(t *testing.T) {
	w := newWorld(t)
	w.newDevice("acme", "dev-b")
	w.person(w.actor["acme"], "acme", "viewer@acme.test", ledger.RoleViewer)
	tests := []struct {
		name, email string
		form        url.Values
		status      int
		code        string
	}{
		{"sibling", w.email["beta"], url.Values{"confirm": {"yes"}}, http.StatusNotFound, "not_found"},
		{"viewer", "viewer@acme.test", url.Values{"confirm": {"yes"}}, http.StatusForbidden, "forbidden"},
		{"no-csrf", w.email["acme"], url.Values{"confirm": {"yes"}, "csrf": nil}, http.StatusForbidden, "csrf_token_invalid"},
		{"long-reason", w.email["acme"], url.Values{"confirm": {"yes"}, "reason": {strings.Repeat("x", ledger.MaxReasonLen+1)}}, http.StatusBadRequest, "invalid_argument"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := w.client()
			tok := w.sessionCSRF(c, tc.email)
			f := url.Values{"csrf": {tok}}
			for k, v := range tc.form {
				if v == nil {
					f.Del(k)
					continue
				}
				f[k] = v
			}
			status, b := w.post(c, "/console/devices/dev-b/blacklist", f)
			if status != tc.status || !strings.Contains(b, tc.code) {
				t.Fatalf("%d, want %d %s", status, tc.status, tc.code)
			}
			if w.device("dev-b").Blacklisted {
				t.Fatal("a refused post blacklisted the device")
			}
		})
	}
}
