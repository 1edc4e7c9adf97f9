package console

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/csv"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/shared/token"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// reportsWorld is newWorld with a device in acme and one in beta.
func reportsWorld(t *testing.T) *world { return reportsWorldTB(t) }

func reportsWorldTB(t testing.TB) *world {
	w := newWorld(t)
	for _, c := range []string{"acme", "beta"} {
		pub, _, _ := ed25519.GenerateKey(rand.Reader)
		if _, err := w.lg.CreateDevice(context.Background(), w.actor[c], ledger.DeviceInput{ID: c + "-meter", CustomerID: c, Model: "sensor-1",
			PublicKey: token.EncodePublicKey(pub)}); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// TestConsoleReportSiblingNotFound: acme's admin asking for any report of
// its sibling beta — the consumption page, its CSV, renewals, active,
// created — gets the API's not_found and none of beta's figures; acme's
// customer picker does not list beta.
func TestConsoleReportSiblingNotFound(t *testing.T) {
	w := reportsWorld(t)
	c := w.client()
	w.signIn(c, w.email["acme"])
	for _, path := range []string{
		"/console/reports/consumption?month=2026-03&customer=beta",
		"/console/reports/consumption.csv?month=2026-03&customer=beta",
		"/console/reports/renewals?from=2026-01-01&to=2026-04-01&customer=beta",
		"/console/reports/active?day=2026-03-14&reseller=beta",
		"/console/reports/created?month=2026-03&customer=beta",
	} {
		res, err := c.Get(w.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b := body(t, res)
		if res.StatusCode != http.StatusNotFound || !strings.Contains(b, `id="error-code">not_found<`) || strings.Contains(b, "beta-meter") {
			t.Fatalf("%s: %d %s, want the not_found page", path, res.StatusCode, res.Header.Get("Content-Type"))
		}
	}
	status, b := w.getPage(c, "/console/reports/consumption?month=2026-03")
	if status != http.StatusOK || !strings.Contains(b, `data-id="acme-meter"`) || strings.Contains(b, "beta") {
		t.Fatalf("acme's own report: %d, want its device and no word of beta", status)
	}
	// The distributor sees both in its picker and its report.
	d := w.client()
	w.signIn(d, w.email["dist"])
	status, b = w.getPage(d, "/console/reports/consumption?month=2026-03&customer=dist")
	if status != http.StatusOK || !strings.Contains(b, `data-id="acme-meter"`) || !strings.Contains(b, `data-id="beta-meter"`) || !strings.Contains(b, `<option value="beta"`) {
		t.Fatalf("dist's report: %d, want both devices and beta in the picker", status)
	}
	// A bad month is the API's refusal.
	if status, b = w.getPage(d, "/console/reports/consumption?month=March"); status != http.StatusBadRequest || !strings.Contains(b, `id="error-code">invalid_parameter<`) {
		t.Fatalf("month=March: %d", status)
	}
}

// TestConsoleConsumptionCSV: the report page links to the CSV download,
// which is the session's, streamed with the API's header
// (wire.ConsumptionCSVHeader), a row per device and the total last.
func TestConsoleConsumptionCSV(t *testing.T) {
	w := reportsWorld(t)
	c := w.client()
	w.signIn(c, w.email["dist"])
	status, b := w.getPage(c, "/console/reports/consumption?month=2026-03&customer=dist")
	link := `href="/console/reports/consumption.csv?customer=dist&amp;month=2026-03"`
	if status != http.StatusOK || !strings.Contains(b, link) {
		t.Fatalf("report page: %d, no %s", status, link)
	}
	res, err := c.Get(w.srv.URL + "/console/reports/consumption.csv?customer=dist&month=2026-03")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") ||
		!strings.Contains(res.Header.Get("Content-Disposition"), "consumption-dist-2026-03.csv") {
		t.Fatalf("CSV: %d %q %q", res.StatusCode, res.Header.Get("Content-Type"), res.Header.Get("Content-Disposition"))
	}
	recs, err := csv.NewReader(res.Body).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) == 0 || !slices.Equal(recs[0], wire.ConsumptionCSVHeader) {
		t.Fatalf("CSV header %q, want %q", recs[0], wire.ConsumptionCSVHeader)
	}
	var devices []string
	for _, r := range recs[1:] {
		if r[0] == wire.ConsumptionRowDevice {
			devices = append(devices, r[2])
		}
	}
	if last := recs[len(recs)-1]; last[0] != wire.ConsumptionRowTotal || len(devices) != 2 {
		t.Fatalf("CSV rows: devices %q, last %q", devices, last)
	}
	// Without a session: the sign-in page, not the file.
	res, err = w.client().Get(w.srv.URL + "/console/reports/consumption.csv?customer=dist&month=2026-03")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode == http.StatusOK {
		t.Fatal("CSV without a session: 200")
	}
}

// TestConsoleHistoryReports: the renewals, active and created reports
// answer with their tables as the ledger gives them: the licenses dist
// created for acme this month are in its created report, under acme's
// too, and none of beta's under acme's.
func TestConsoleHistoryReports(t *testing.T) {
	w := reportsWorld(t)
	c := w.client()
	w.signIn(c, w.email["dist"])
	for path, table := range map[string]string{
		"/console/reports/renewals?from=2026-01-01&to=2026-04-01": `id="renewals"`,
		"/console/reports/active?day=2026-03-14&reseller=":        `id="active"`,
		"/console/reports/created?month=2026-03":                  `id="created"`,
	} {
		if status, b := w.getPage(c, path); status != http.StatusOK || !strings.Contains(b, table) {
			t.Fatalf("%s: %d, no %s", path, status, table)
		}
	}
	_, b := w.getPage(c, "/console/reports/created?month=2026-03&customer=dist")
	if !strings.Contains(b, w.acmeLicense.ID) || !strings.Contains(b, w.betaLicense.ID) {
		t.Fatal("dist's created report misses the licenses it created for acme and beta")
	}
	a := w.client()
	w.signIn(a, w.email["acme"])
	if status, b := w.getPage(a, "/console/reports/renewals?from=2026-04-01&to=2026-01-01"); status != http.StatusBadRequest {
		t.Fatalf("renewals with from after to: %d %s", status, b)
	}
}
