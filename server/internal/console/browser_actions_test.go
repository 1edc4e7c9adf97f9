package console

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// focused is the id of the element that has the keyboard focus.
func focused(t *testing.T, ctx context.Context) string {
	t.Helper()
	id, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement ? document.activeElement.id : ""`))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// tabTo presses Tab until the element with id has the focus (at most max
// presses) and fails the test when it never does.
func tabTo(t *testing.T, ctx context.Context, id string, max int) {
	t.Helper()
	for range max {
		if focused(t, ctx) == id {
			return
		}
		if err := chromedp.Do(ctx, chromedp.KeyEvent("\t")); err != nil {
			t.Fatal(err)
		}
	}
	if got := focused(t, ctx); got != id {
		t.Fatalf("Tab never reached #%s (focus on %q)", id, got)
	}
}

// newDevice registers a device of customer with a fresh key.
func (w *world) newDevice(customer, id string) {
	w.t.Helper()
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	if _, err := w.lg.CreateDevice(context.Background(), w.actor[customer], ledger.DeviceInput{ID: id, CustomerID: customer,
		Model: "sensor-a", PublicKey: token.EncodePublicKey(pub)}); err != nil {
		w.t.Fatal(err)
	}
}

// TestConsoleKeyboardOnlyBind: on a license page, Tab reaches the bind
// form's device field, the device id is typed and Enter submits; the page
// says bound and the ledger holds the license bound to that device. Then
// the unbind button, reached by Tab, asks to confirm, and only the confirm
// unbinds.
func TestConsoleKeyboardOnlyBind(t *testing.T) {
	w := newWorld(t)
	w.newDevice("acme", "dev-k")
	ctx := tab(t)
	if err := w.signInBrowser(ctx, w.email["acme"], testPassword); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(w.srv.URL+"/console/licenses/"+w.acmeLicense.ID), chromedp.WaitVisible(css("#bind-form"))); err != nil {
		t.Fatal(err)
	}
	tabTo(t, ctx, "bind-device", 30)
	if err := chromedp.Do(ctx, chromedp.KeyEvent("dev-k\r"), chromedp.WaitVisible(css("#done"))); err != nil {
		t.Fatal(err)
	}
	if dev, err := text(ctx, "#device"); err != nil || dev != "dev-k" {
		t.Fatalf("the page shows device %q (%v)", dev, err)
	}
	l, err := w.lg.GetLicense(context.Background(), w.actor["acme"], w.acmeLicense.ID)
	if err != nil {
		t.Fatal(err)
	}
	if l.DeviceID != "dev-k" {
		t.Fatalf("the ledger has the license on %q, want dev-k", l.DeviceID)
	}

	// Unbind: Enter on the button shows the confirm step; nothing changed yet.
	tabTo(t, ctx, "unbind", 30)
	if err := chromedp.Do(ctx, chromedp.KeyEvent("\r"), chromedp.WaitVisible(css("#confirm"))); err != nil {
		t.Fatal(err)
	}
	if l, _ := w.lg.GetLicense(context.Background(), w.actor["acme"], w.acmeLicense.ID); l.DeviceID != "dev-k" {
		t.Fatal("the first step unbound")
	}
	tabTo(t, ctx, "confirm", 30)
	if err := chromedp.Do(ctx, chromedp.KeyEvent("\r"), chromedp.WaitVisible(css("#done"))); err != nil {
		t.Fatal(err)
	}
	if l, _ := w.lg.GetLicense(context.Background(), w.actor["acme"], w.acmeLicense.ID); l.DeviceID != "" {
		t.Fatalf("after the confirm the license is still on %q", l.DeviceID)
	}
}

// TestConsoleBindRefusalShowsAPICode: binding to a device the actor does
// not see shows the API's not_found on the license page.
func TestConsoleBindRefusalShowsAPICode(t *testing.T) {
	w := newWorld(t)
	w.newDevice("beta", "dev-beta")
	ctx := tab(t)
	if err := w.signInBrowser(ctx, w.email["acme"], testPassword); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(w.srv.URL+"/console/licenses/"+w.acmeLicense.ID),
		chromedp.SendKeys(css("#bind-device"), "dev-beta"), submit(css("#bind"))); err != nil {
		t.Fatal(err)
	}
	if code, err := errorCode(ctx); err != nil || code != "not_found" {
		t.Fatalf("bind to a sibling's device: %q, %v", code, err)
	}
	if l, _ := w.lg.GetLicense(context.Background(), w.actor["acme"], w.acmeLicense.ID); l.DeviceID != "" {
		t.Fatalf("bound to %q", l.DeviceID)
	}
}

// TestConsoleBatchLockByCheckbox: acme's admin ticks two of its three
// licenses in the list and locks them; the confirm step lists the two and
// changes nothing; after the confirm each row says locked and the ledger
// holds exactly those two locked.
func TestConsoleBatchLockByCheckbox(t *testing.T) {
	w := newWorld(t)
	bg := context.Background()
	ls, _, err := w.lg.ListLicenses(bg, w.actor["acme"], ledger.LicenseFilter{CustomerID: "acme", Type: token.TypeStandard})
	if err != nil || len(ls) != 3 {
		t.Fatalf("acme has %d standard licenses (%v), want 3", len(ls), err)
	}
	ctx := tab(t)
	if err := w.signInBrowser(ctx, w.email["acme"], testPassword); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(w.srv.URL+"/console/licenses?customer=acme&type=standard"), chromedp.WaitVisible(css("#batch-form")),
		chromedp.Click(css("#tick-"+ls[0].ID)), chromedp.Click(css("#tick-"+ls[2].ID)),
		chromedp.SetValue(css("#batch-action"), "lock"), submit(css("#batch-continue")), chromedp.WaitVisible(css("#confirm"))); err != nil {
		t.Fatal(err)
	}
	listed, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#batch tbody tr')].map(r => r.dataset.id)`))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(listed) != fmt.Sprint([]string{ls[0].ID, ls[2].ID}) {
		t.Fatalf("confirm step lists %v, want %s and %s", listed, ls[0].ID, ls[2].ID)
	}
	locked := func() []bool {
		var out []bool
		for _, l := range ls {
			v, err := w.lg.GetLicense(bg, w.actor["acme"], l.ID)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, v.Locked)
		}
		return out
	}
	if got := locked(); got[0] || got[1] || got[2] {
		t.Fatalf("the confirm step locked: %v", got)
	}
	if err := chromedp.Do(ctx, submit(css("#confirm")), chromedp.WaitVisible(css("#batch-done"))); err != nil {
		t.Fatal(err)
	}
	outcomes, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#batch tbody tr')].map(r => r.dataset.outcome)`))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(outcomes) != "[ok ok]" {
		t.Fatalf("outcomes %v", outcomes)
	}
	if got := locked(); !got[0] || got[1] || !got[2] {
		t.Fatalf("locked in the ledger: %v, want [true false true]", got)
	}
}
