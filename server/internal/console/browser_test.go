package console

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/server/internal/ledgertest"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// The browser tests drive Debian's chromium headless through chromedp
// against the real console and API on a 127.0.0.1 port. One browser
// serves the whole package; each test gets its own tab in its own browser
// context (no shared cookies).

// chromiumPath is where Debian's chromium package installs the browser
// (scripts/need-chromium.sh installs it on CI).
const chromiumPath = "/usr/bin/chromium"

// browserTimeout bounds one test's browser work.
const browserTimeout = 60 * time.Second

var browser struct {
	once   sync.Once
	ctx    context.Context
	cancel func()
	err    error
	dir    string
}

func TestMain(m *testing.M) {
	code := m.Run()
	if browser.cancel != nil {
		browser.cancel()
	}
	if browser.dir != "" {
		os.RemoveAll(browser.dir)
	}
	os.Exit(code)
}

// tab returns a fresh tab of the package's browser, or skips the test when
// chromium is missing outside CI (on CI, CI=true, it fails instead).
func tab(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing on CI: scripts/need-chromium.sh installs the Debian package chromium", chromiumPath)
		}
		t.Skipf("browser test skipped: %s not found (install the Debian package: apt-get install chromium)", chromiumPath)
	}
	browser.once.Do(func() {
		browser.dir, browser.err = os.MkdirTemp("", "tollgate-chromium-")
		if browser.err != nil {
			return
		}
		opts := []chromedp.ExecAllocatorOption{
			chromedp.ExecPath(chromiumPath), chromedp.UserDataDir(browser.dir),
			chromedp.Flag("headless", true), chromedp.Flag("no-sandbox", true), chromedp.Flag("disable-gpu", true),
			chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
			chromedp.Flag("no-first-run", true), chromedp.Flag("disable-sync", true), chromedp.Flag("hide-scrollbars", true),
		}
		actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
		bctx, bcancel := chromedp.NewContext(actx)
		browser.ctx, browser.cancel = bctx, func() { bcancel(); acancel() }
		browser.err = chromedp.Do(bctx) // starts the browser
	})
	if browser.err != nil {
		t.Fatalf("start chromium: %v", browser.err)
	}
	ctx, cancel := chromedp.NewContext(browser.ctx, chromedp.WithNewBrowserContext())
	if err := chromedp.Do(ctx); err != nil { // opens the tab (no timeout on its first call)
		cancel()
		t.Fatalf("open a tab: %v", err)
	}
	ctx, cancelT := context.WithTimeout(ctx, browserTimeout)
	t.Cleanup(func() { cancelT(); cancel() })
	return ctx
}

// signInBrowser opens the server's root, which redirects to the sign-in
// page, and submits the form.
func (w *world) signInBrowser(ctx context.Context, email, password string) error {
	return chromedp.Do(ctx,
		chromedp.Navigate(w.srv.URL+"/"),
		chromedp.WaitVisible(css("#sign-in-form")),
		chromedp.SendKeys(css("#email"), email),
		chromedp.SendKeys(css("#password"), password),
		submit(css("#sign-in")),
	)
}

// submit clicks a submit button and waits for the page the form posts to
// (the old page is marked first, so its elements cannot be mistaken for
// the new page's).
func submit(button chromedp.CSS) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := chromedp.Evaluate[bool](`document.body.dataset.old = "1", true`)(ctx, t)
			return err
		}),
		chromedp.Click(button),
		chromedp.WaitReady(css("body:not([data-old]) > main")),
	)
}

func css(sel string) chromedp.CSS { return chromedp.CSS(sel) }

// text is the text of the first element sel matches.
func text(ctx context.Context, sel string) (string, error) {
	return chromedp.Run(ctx, chromedp.Text(css(sel)))
}

// errorCode waits for the refusal box and returns its code.
func errorCode(ctx context.Context) (string, error) {
	if err := chromedp.Do(ctx, chromedp.WaitVisible(css("#error-code"))); err != nil {
		return "", err
	}
	return text(ctx, "#error-code")
}

func TestConsoleSignIn(t *testing.T) {
	w := newWorld(t)
	ctx := tab(t)
	if err := w.signInBrowser(ctx, w.email["acme"], testPassword); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(css("#who"))); err != nil {
		t.Fatal(err)
	}
	who, err := text(ctx, "#who")
	if err != nil {
		t.Fatal(err)
	}
	h1, err := text(ctx, "h1")
	if err != nil {
		t.Fatal(err)
	}
	if want := w.email["acme"] + " · acme · admin"; who != want || h1 != "Dashboard" {
		t.Fatalf("signed in as %q on %q, want %q on Dashboard", who, h1, want)
	}
	// Sign out: the next page asks to sign in again.
	if err := chromedp.Do(ctx, submit(css("#sign-out")), chromedp.WaitVisible(css("#sign-in-form")),
		chromedp.Navigate(w.srv.URL+"/console/licenses"), chromedp.WaitVisible(css("#sign-in-form"))); err != nil {
		t.Fatal(err)
	}
	url, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if url != w.srv.URL+"/console/sign-in" {
		t.Fatalf("after sign-out, /console/licenses went to %s", url)
	}
}

func TestConsoleWrongPassword(t *testing.T) {
	w := newWorld(t)
	ctx := tab(t)
	if err := w.signInBrowser(ctx, w.email["acme"], "not the password"); err != nil {
		t.Fatal(err)
	}
	code, err := errorCode(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if code != "bad_credentials" {
		t.Fatalf("error code %q, want bad_credentials", code)
	}
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#who').length`)); err != nil || n != 0 {
		t.Fatalf("signed in after a wrong password (%d, %v)", n, err)
	}
}

func TestConsoleLockout(t *testing.T) {
	w := newWorld(t)
	ctx := tab(t)
	for i := range ledger.MaxSignInFailures {
		if err := w.signInBrowser(ctx, w.email["acme"], "not the password"); err != nil {
			t.Fatal(err)
		}
		if code, err := errorCode(ctx); err != nil || code != "bad_credentials" {
			t.Fatalf("attempt %d: %q, %v", i+1, code, err)
		}
	}
	// Locked: the right password is refused too.
	if err := w.signInBrowser(ctx, w.email["acme"], testPassword); err != nil {
		t.Fatal(err)
	}
	if code, err := errorCode(ctx); err != nil || code != "account_locked" {
		t.Fatalf("right password while locked: %q, %v", code, err)
	}
	// Another account is not locked by it.
	if err := w.signInBrowser(ctx, w.email["beta"], testPassword); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(css("#who"))); err != nil {
		t.Fatal(err)
	}
	// After the lockout period the right password works.
	w.le.Clock.Advance(ledger.SignInLockout)
	if err := chromedp.Do(ctx, submit(css("#sign-out")), chromedp.WaitVisible(css("#sign-in-form"))); err != nil {
		t.Fatal(err)
	}
	if err := w.signInBrowser(ctx, w.email["acme"], testPassword); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(css("#who"))); err != nil {
		t.Fatal(err)
	}
}

// TestConsoleSiblingLicenseNotFound: acme's admin opens beta's license by
// its URL and gets not found, exactly as the API answers; its own opens.
func TestConsoleSiblingLicenseNotFound(t *testing.T) {
	w := newWorld(t)
	ctx := tab(t)
	if err := w.signInBrowser(ctx, w.email["acme"], testPassword); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(w.srv.URL+"/console/licenses/"+w.acmeLicense.ID)); err != nil {
		t.Fatal(err)
	}
	serial, err := text(ctx, "#serial")
	if err != nil {
		t.Fatal(err)
	}
	if serial != w.acmeLicense.Serial {
		t.Fatalf("own license page shows %q", serial)
	}
	for _, id := range []string{w.betaLicense.ID, w.betaLicense.Serial} {
		if err := chromedp.Do(ctx, chromedp.Navigate(w.srv.URL+"/console/licenses/"+id)); err != nil {
			t.Fatal(err)
		}
		if code, err := errorCode(ctx); err != nil || code != "not_found" {
			t.Fatalf("sibling's license %s: %q, %v", id, code, err)
		}
	}
	// Nor does the list show it.
	if err := chromedp.Do(ctx, chromedp.Navigate(w.srv.URL+"/console/licenses?customer=beta")); err != nil {
		t.Fatal(err)
	}
	if code, err := errorCode(ctx); err != nil || code != "not_found" {
		t.Fatalf("list of beta's licenses: %q, %v", code, err)
	}
}

// TestConsoleDashboardEqualsStats: every count on the dashboard equals
// ledger.Stats for the signed-in actor (what GET /v1/stats and tollgatectl
// stats show).
func TestConsoleDashboardEqualsStats(t *testing.T) {
	w := newWorld(t)
	bg := context.Background()
	acme := w.actor["acme"]
	for i := range 2 {
		pub, _, _ := ed25519.GenerateKey(rand.Reader)
		id := "dev-" + strconv.Itoa(i)
		if _, err := w.lg.CreateDevice(bg, acme, ledger.DeviceInput{ID: id, CustomerID: "acme", Model: "sensor-a", PublicKey: token.EncodePublicKey(pub)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.lg.Bind(bg, acme, w.acmeLicense.ID, ledger.BindInput{DeviceID: "dev-0"}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.lg.SetBlacklist(bg, acme, "dev-1", true, "test"); err != nil {
		t.Fatal(err)
	}
	st, err := w.lg.Stats(bg, w.actor["dist"], "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := tab(t)
	if err := w.signInBrowser(ctx, w.email["dist"], testPassword); err != nil {
		t.Fatal(err)
	}
	read := func(id string) map[string]int64 {
		js := fmt.Sprintf(`Object.fromEntries([...document.querySelectorAll('#%s tbody tr[data-key]')].map(r => [r.dataset.key, Number(r.querySelector('td.n').textContent)]))`, id)
		m, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]int64](js))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(css("#by-status"))); err != nil {
		t.Fatal(err)
	}
	status := map[string]int64{}
	for k, n := range st.ByStatus {
		if n > 0 {
			status[string(k)] = n
		}
	}
	positive := func(m map[string]int64) map[string]int64 {
		out := map[string]int64{}
		for k, n := range m {
			if n > 0 {
				out[k] = n
			}
		}
		return out
	}
	for _, c := range []struct {
		id   string
		want map[string]int64
	}{{"by-status", status}, {"by-type", positive(st.ByType)}, {"by-billing", positive(st.ByBilling)}} {
		got := read(c.id)
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%s on the page %v, Stats %v", c.id, got, c.want)
		}
	}
	if len(status) < 2 {
		t.Fatalf("the world has only statuses %v: the comparison is too weak", status)
	}
	for sel, want := range map[string]int64{"#days30-n": st.DaysLeft30, "#days7-n": st.DaysLeft7,
		"#blacklisted-n": st.DevicesBlacklisted, "#offline-n": st.DevicesOffline} {
		s, err := text(ctx, sel)
		if err != nil {
			t.Fatal(err)
		}
		if s != strconv.FormatInt(want, 10) {
			t.Errorf("%s = %q, Stats %d", sel, s, want)
		}
	}
	if st.DevicesBlacklisted != 1 {
		t.Errorf("Stats counts %d blacklisted devices, want 1", st.DevicesBlacklisted)
	}
}

// TestConsoleSellByQuantity: dist sells 3 licenses to acme through the
// form and its confirm step; the page and the ledger's sales record agree.
func TestConsoleSellByQuantity(t *testing.T) {
	w := newWorld(t)
	ctx := tab(t)
	if err := w.signInBrowser(ctx, w.email["dist"], testPassword); err != nil {
		t.Fatal(err)
	}
	err := chromedp.Do(ctx, chromedp.Navigate(w.srv.URL+"/console/sell"),
		chromedp.SendKeys(css("#customer"), "acme"),
		chromedp.SetValue(css("#count"), "3"),
		submit(css("#sell")),
		chromedp.WaitVisible(css("#confirm")))
	if err != nil {
		t.Fatal(err)
	}
	if confirm, err := text(ctx, "#confirm-text"); err != nil || !strings.Contains(confirm, "Sell 3 unused standard licenses to acme") {
		t.Fatalf("confirm step says %q (%v)", confirm, err)
	}
	if sales(t, w) != 0 {
		t.Fatal("the first step sold")
	}
	if err := chromedp.Do(ctx, submit(css("#confirm")), chromedp.WaitVisible(css("#sold"))); err != nil {
		t.Fatal(err)
	}
	sold, err := text(ctx, "#sold-n")
	if err != nil {
		t.Fatal(err)
	}
	ss, _, err := w.lg.ListSales(context.Background(), w.actor["dist"], ledger.SaleFilter{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if sold != "3" || len(ss) != 1 || len(ss[0].LicenseIDs) != 3 || ss[0].To != "acme" {
		t.Fatalf("page says %q sold; sales %+v", sold, ss)
	}
}

// TestConsoleKeyboardOnlySignIn signs in with the keyboard alone: Tab to
// the e-mail field, type, Tab, type, Enter.
func TestConsoleKeyboardOnlySignIn(t *testing.T) {
	w := newWorld(t)
	ctx := tab(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(w.srv.URL+"/console/sign-in"), chromedp.WaitVisible(css("#sign-in-form"))); err != nil {
		t.Fatal(err)
	}
	focused := func() string {
		id, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement ? document.activeElement.id : ""`))
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	for range 6 {
		if focused() == "email" {
			break
		}
		if err := chromedp.Do(ctx, chromedp.KeyEvent("\t")); err != nil {
			t.Fatal(err)
		}
	}
	if got := focused(); got != "email" {
		t.Fatalf("Tab never reached the e-mail field (focus on %q)", got)
	}
	if err := chromedp.Do(ctx, chromedp.KeyEvent(w.email["acme"]+"\t"+testPassword)); err != nil {
		t.Fatal(err)
	}
	if got := focused(); got != "password" {
		t.Fatalf("Tab from the e-mail field went to %q", got)
	}
	if err := chromedp.Do(ctx, chromedp.KeyEvent("\r"), chromedp.WaitVisible(css("#who"))); err != nil {
		t.Fatal(err)
	}
}

// TestConsoleInvitationSetsPassword: the link tollgatectl user create
// prints opens the set-password page; the password set there signs in; the
// link then no longer works.
func TestConsoleInvitationSetsPassword(t *testing.T) {
	w := newWorld(t)
	bg := context.Background()
	u, _, err := w.lg.CreateUser(bg, w.actor["acme"], "acme", "new@acme.test", ledger.RoleViewer)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := w.lg.Invite(bg, w.actor["acme"], u.ID)
	if err != nil {
		t.Fatal(err)
	}
	ctx := tab(t)
	const pw = "a fresh long password"
	if err := chromedp.Do(ctx, chromedp.Navigate(w.srv.URL+inv.Path), chromedp.WaitVisible(css("#password"))); err != nil {
		t.Fatal(err)
	}
	if email, err := text(ctx, "#invite-email"); err != nil || email != "new@acme.test" {
		t.Fatalf("invitation page for %q (%v)", email, err)
	}
	// Two different passwords: refused with the code, nothing set.
	if err := chromedp.Do(ctx, chromedp.SendKeys(css("#password"), pw), chromedp.SendKeys(css("#confirm"), pw+"!"),
		submit(css("#set-password"))); err != nil {
		t.Fatal(err)
	}
	if code, err := errorCode(ctx); err != nil || code != "invalid_argument" {
		t.Fatalf("different passwords: %q, %v", code, err)
	}
	if err := chromedp.Do(ctx, chromedp.SendKeys(css("#password"), pw), chromedp.SendKeys(css("#confirm"), pw),
		submit(css("#set-password")), chromedp.WaitVisible(css("#notice"))); err != nil {
		t.Fatal(err)
	}
	if err := w.signInBrowser(ctx, "new@acme.test", pw); err != nil {
		t.Fatal(err)
	}
	if who, err := text(ctx, "#who"); err != nil || who != "new@acme.test · acme · viewer" {
		t.Fatalf("signed in as %q (%v)", who, err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(w.srv.URL+inv.Path)); err != nil {
		t.Fatal(err)
	}
	if code, err := errorCode(ctx); err != nil || code != "invitation_invalid" {
		t.Fatalf("used link: %q, %v", code, err)
	}
}

// TestConsoleDeviceChartHoldsLedgerCounts: the device page's chart and its
// table have one bar per hour of the last 24, with the counts the ledger
// holds for the device; a sibling's device is not found.
func TestConsoleDeviceChartHoldsLedgerCounts(t *testing.T) {
	le, db := ledgertest.OpenFleet(t, "", ledgertest.Fleet{Customers: 2, DevicesPerCustomer: 1,
		From: ledgertest.Start.Add(-30 * time.Hour), Hours: 30, Accepted: 7})
	t.Cleanup(func() { db.Close() })
	bg := context.Background()
	lg := le.Ledger
	root, err := lg.Authenticate(bg, le.RootKey)
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, lg: lg, le: le, actor: map[string]ledger.Actor{}, email: map[string]string{}}
	w.person(root, "c0000", "admin@c0000.test", ledger.RoleViewer)
	web, err := New(Options{Ledger: lg, Clock: le.Clock, Logger: le.Logger})
	if err != nil {
		t.Fatal(err)
	}
	w.srv = httptest.NewServer(web.Mount(http.NotFoundHandler()))
	t.Cleanup(w.srv.Close)

	const dev = "c0000-d000000"
	want, _ := ledgerHours(t, lg, root, dev, le.Clock.Now(), 24)
	ctx := tab(t)
	if err := w.signInBrowser(ctx, "admin@c0000.test", testPassword); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(w.srv.URL+"/console/devices/"+dev), chromedp.WaitVisible(css("#hourly"))); err != nil {
		t.Fatal(err)
	}
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[[]int64](`[...document.querySelectorAll('#hourly tbody tr')].map(r => Number(r.cells[1].textContent))`))
	if err != nil {
		t.Fatal(err)
	}
	nbars, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('svg.bars rect.reported').length`))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(want) || nbars != len(want) {
		t.Fatalf("page shows %d rows and %d bars, ledger holds %d hours", len(rows), nbars, len(want))
	}
	for i, n := range want {
		if rows[i] != n {
			t.Fatalf("hour %d: page %d, ledger %d", i, rows[i], n)
		}
	}
	// The other customer's device: not found, as from the API.
	if err := chromedp.Do(ctx, chromedp.Navigate(w.srv.URL+"/console/devices/c0001-d000000")); err != nil {
		t.Fatal(err)
	}
	if code, err := errorCode(ctx); err != nil || code != "not_found" {
		t.Fatalf("sibling's device: %q, %v", code, err)
	}
}
