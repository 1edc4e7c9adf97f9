package console

import (
	"testing"

	"github.com/chromedp/chromedp"
)

// TestConsoleKeyboardOnlyBlacklist: on a device page, Tab reaches the
// blacklist reason, the reason is typed, Tab and Enter press Blacklist;
// the confirm step shows and changes nothing; Tab to its confirm button
// and Enter blacklists: the page says so and the ledger holds the device
// blacklisted with the typed reason.
func TestConsoleKeyboardOnlyBlacklist(t *testing.T) {
	w := newWorld(t)
	w.newDevice("acme", "dev-k")
	ctx := tab(t)
	if err := w.signInBrowser(ctx, w.email["acme"], testPassword); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(w.srv.URL+"/console/devices/dev-k"), chromedp.WaitVisible(css("#blacklist-form"))); err != nil {
		t.Fatal(err)
	}
	tabTo(t, ctx, "reason", 40)
	if err := chromedp.Do(ctx, chromedp.KeyEvent("meter tampered")); err != nil {
		t.Fatal(err)
	}
	tabTo(t, ctx, "blacklist", 3)
	if err := chromedp.Do(ctx, chromedp.KeyEvent("\r"), chromedp.WaitVisible(css("#confirm-text"))); err != nil {
		t.Fatal(err)
	}
	if w.device("dev-k").Blacklisted {
		t.Fatal("the first step blacklisted")
	}
	tabTo(t, ctx, "confirm", 40)
	if err := chromedp.Do(ctx, chromedp.KeyEvent("\r"), chromedp.WaitVisible(css("#done"))); err != nil {
		t.Fatal(err)
	}
	if got, err := text(ctx, "#blacklisted"); err != nil || got != "yes: meter tampered" {
		t.Fatalf("the page shows %q (%v)", got, err)
	}
	if d := w.device("dev-k"); !d.Blacklisted || d.BlacklistReason != "meter tampered" {
		t.Fatalf("the ledger holds %+v", d)
	}
}
