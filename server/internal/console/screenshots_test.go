package console

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"math"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tollgate-iot/tollgate/server/internal/api"
	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/server/internal/ledgertest"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// ScreenshotsEnv names the directory TestConsoleScreenshots writes the
// documentation's screenshots to (docs/img from the repository root); the
// test is skipped without it.
const ScreenshotsEnv = "TOLLGATE_SCREENSHOTS"

// screenshotWidth is the width of the documentation's screenshots.
const screenshotWidth = 1440

// demoWorld is a ledger filled like the demo: the vendor stocks the
// distributor northwind, which sells to two customers, acme-water and
// baltic-grid; their devices have synced hourly counts; licenses are of
// both types and billings and in several states.
func demoWorld(t *testing.T) (*world, string) {
	t.Helper()
	ctx := context.Background()
	le := ledgertest.Open(t)
	lg := le.Ledger
	w := &world{t: t, lg: lg, le: le, actor: map[string]ledger.Actor{}, email: map[string]string{}}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	root, err := lg.Authenticate(ctx, le.RootKey)
	must(err)
	w.actor["root"] = root
	for _, c := range []struct{ id, name, parent string }{
		{"northwind", "Northwind Distribution", "root"}, {"acme-water", "Acme Water Works", "northwind"}, {"baltic-grid", "Baltic Grid", "northwind"},
	} {
		_, err := lg.CreateCustomer(ctx, w.actor[c.parent], ledger.CustomerInput{ID: c.id, Name: c.name, ParentID: c.parent})
		must(err)
		w.email[c.id] = "ops@" + c.id + ".example"
		w.actor[c.id] = w.person(w.actor[c.parent], c.id, w.email[c.id], ledger.RoleAdmin)
	}
	on := true
	_, err = lg.UpdateCustomer(ctx, root, "northwind", ledger.CustomerUpdate{Issuer: &ledger.IssuerUpdate{Issuer: &on}})
	must(err)
	dist := w.actor["northwind"]
	mk := func(customer, typ, billing string, days int64, rate int64, n int) []ledger.LicenseView {
		in := ledger.LicenseInput{CustomerID: customer, Type: typ, Billing: billing, Models: []string{"meter-*"}, MaxSamplesPerHour: rate, Count: n}
		if billing == token.BillingDays {
			in.Days = days
		}
		ls, err := lg.CreateLicenses(ctx, dist, in)
		must(err)
		return ls
	}
	_, err = lg.CreateLicenses(ctx, root, ledger.LicenseInput{CustomerID: "northwind", Type: token.TypeStandard, Billing: token.BillingTerm,
		Models: []string{"meter-*"}, MaxSamplesPerHour: 3600, Count: 24})
	must(err)
	_, err = lg.Sell(ctx, dist, ledger.BatchInput{CustomerID: "acme-water", Count: 6})
	must(err)
	acmeTerm, _, err := lg.ListLicenses(ctx, w.actor["acme-water"], ledger.LicenseFilter{CustomerID: "acme-water"})
	must(err)
	acmeDays := mk("acme-water", token.TypeStandard, token.BillingDays, 90, 1200, 3)
	acmeShort := mk("acme-water", token.TypeStandard, token.BillingDays, 5, 600, 2)
	balticDays := mk("baltic-grid", token.TypeStandard, token.BillingDays, 30, 600, 4)

	// Devices with keys, bound, and a day of hourly counts each.
	type dev struct {
		id, customer, license string
		base                  float64
	}
	devs := []dev{
		{"pump-station-01", "acme-water", acmeTerm[0].ID, 2400},
		{"pump-station-02", "acme-water", acmeTerm[1].ID, 1800},
		{"reservoir-north", "acme-water", acmeDays[0].ID, 900},
		{"valve-17", "acme-water", acmeShort[0].ID, 400},
		{"substation-a", "baltic-grid", balticDays[0].ID, 450},
		{"substation-b", "baltic-grid", balticDays[1].ID, 300},
	}
	now := le.Clock.Now().Truncate(time.Hour)
	var obs []ledger.ObservedCount
	for i, d := range devs {
		pub, _, _ := ed25519.GenerateKey(rand.Reader)
		_, err := lg.CreateDevice(ctx, w.actor[d.customer], ledger.DeviceInput{ID: d.id, CustomerID: d.customer, Model: "meter-x2",
			PublicKey: token.EncodePublicKey(pub), Location: "site " + string(rune('A'+i))})
		must(err)
		_, err = lg.Bind(ctx, w.actor[d.customer], d.license, ledger.BindInput{DeviceID: d.id})
		must(err)
		r := &syncproto.Report{DeviceID: d.id, Nonce: "AAAAAAAAAAAAAAAAAAAAA" + string(rune('A'+i)), SentAt: now.Unix(),
			Tokens: []syncproto.TokenVersion{}, Deductions: []syncproto.Deduction{}, Counts: []syncproto.HourlyCount{}}
		for h := 30; h >= 1; h-- {
			hour := now.Add(-time.Duration(h) * time.Hour)
			// A daily curve: busy in the day, quiet at night.
			n := d.base * (0.6 + 0.4*math.Sin(2*math.Pi*float64(hour.Hour()-8)/24))
			r.Counts = append(r.Counts, syncproto.HourlyCount{DeviceID: d.id, Hour: hour.Unix(), Accepted: int64(n)})
			// The broker saw what the device reported, and a little more
			// in the evenings.
			seen := int64(n)
			if hour.Hour() >= 18 {
				seen += int64(n) / 20
			}
			obs = append(obs, ledger.ObservedCount{CustomerID: d.customer, DeviceID: d.id, Hour: hour.Unix(), Count: seen})
		}
		_, err = lg.Reconcile(ctx, d.id, r)
		must(err)
	}
	_, _, err = lg.AddObservedCounts(ctx, obs)
	must(err)
	_, err = lg.SetBlacklist(ctx, w.actor["acme-water"], "valve-17", true, "tampered enclosure")
	must(err)
	_, err = lg.SetLock(ctx, w.actor["acme-water"], acmeTerm[4].ID, true)
	must(err)
	_, err = lg.Suspend(ctx, root, balticDays[2].ID)
	must(err)
	_, err = lg.Revoke(ctx, root, balticDays[3].ID)
	must(err)
	mk("acme-water", token.TypeTrial, token.BillingTerm, 0, 100, 2)

	web, err := New(Options{Ledger: lg, Clock: le.Clock, Logger: le.Logger})
	must(err)
	w.h = web.Mount(api.New(api.Options{Ledger: lg, Clock: le.Clock, Logger: le.Logger}).Handler())
	w.srv = httptest.NewServer(w.h)
	t.Cleanup(w.srv.Close)
	return w, devs[0].id
}

// TestConsoleScreenshots writes the documentation's screenshots of the
// dashboard, the license list and a device page, taken from a demo-like
// ledger at 1440 px wide:
//
//	TOLLGATE_SCREENSHOTS=$PWD/docs/img go test ./server/internal/console -run TestConsoleScreenshots
func TestConsoleScreenshots(t *testing.T) {
	dir := os.Getenv(ScreenshotsEnv)
	if dir == "" {
		t.Skipf("set %s to a directory (docs/img) to write the screenshots", ScreenshotsEnv)
	}
	w, device := demoWorld(t)
	ctx := tab(t)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(screenshotWidth, 900)); err != nil {
		t.Fatal(err)
	}
	if err := w.signInBrowser(ctx, w.email["northwind"], testPassword); err != nil {
		t.Fatal(err)
	}
	for _, s := range []struct{ file, path, ready string }{
		{"console-dashboard.png", "/console/", "#by-status"},
		{"console-licenses.png", "/console/licenses", "#licenses"},
		{"console-device.png", "/console/devices/" + device, "#hourly"},
	} {
		if err := chromedp.Do(ctx, chromedp.Navigate(w.srv.URL+s.path), chromedp.WaitVisible(css(s.ready))); err != nil {
			t.Fatal(err)
		}
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, s.file), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
