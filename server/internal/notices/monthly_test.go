package notices

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/csv"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/internal/testkit/smtpd"
	"github.com/tollgate-iot/tollgate/server/internal/keys"
	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/clock"
	"github.com/tollgate-iot/tollgate/shared/token"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// TestMonthlyReportArrivesWithItsCSV: a customer charged a day in March
// gets, from April 1st, its March consumption report by e-mail from a
// real SMTP server's point of view: the CSV attached is the API's (the
// documented header, a row for its device with the day charged), and the
// body carries the totals.
func TestMonthlyReportArrivesWithItsCSV(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(time.Date(2026, 2, 20, 9, 0, 0, 0, time.UTC))
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := store.Open(store.Options{Dir: t.TempDir(), Profile: store.ProfileSmall, Clock: clk, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ks, err := keys.Open(t.TempDir(), clk)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ks.Rotate(); err != nil {
		t.Fatal(err)
	}
	lg, err := ledger.New(ledger.Options{DB: db, Clock: clk, Keys: ks, Logger: quiet, Mail: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := lg.Bootstrap(ctx, "Vendor", "ops@vendor.test"); err != nil {
		t.Fatal(err)
	}
	root := ledger.SystemActor()
	if _, err := lg.CreateCustomer(ctx, root, ledger.CustomerInput{ID: "acme", Name: "Acme", ParentID: "root", Email: "billing@acme.test"}); err != nil {
		t.Fatal(err)
	}
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	if _, err := lg.CreateDevice(ctx, root, ledger.DeviceInput{ID: "press-01", CustomerID: "acme", Model: "press", PublicKey: token.EncodePublicKey(pub)}); err != nil {
		t.Fatal(err)
	}
	ls, err := lg.CreateLicenses(ctx, root, ledger.LicenseInput{CustomerID: "acme", Type: token.TypeStandard, Billing: token.BillingDays, Models: []string{"press"}, Days: 10})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lg.Bind(ctx, root, ls[0].ID, ledger.BindInput{DeviceID: "press-01"}); err != nil {
		t.Fatal(err)
	}
	clk.Set(time.Date(2026, 3, 5, 8, 0, 0, 0, time.UTC))
	if _, err := lg.Deduct(ctx, ledger.DeductInput{DeviceID: "press-01", Seq: 1}); err != nil {
		t.Fatal(err)
	}
	clk.Set(time.Date(2026, 4, 1, 0, 1, 0, 0, time.UTC))
	if _, err := lg.IssueNotices(ctx); err != nil {
		t.Fatal(err)
	}

	srv := smtpd.Start(t, smtpd.Options{})
	if _, err := Pass(ctx, Options{Ledger: lg, Sender: testSender(t, srv), Reports: lg, Logger: quiet}); err != nil {
		t.Fatal(err)
	}
	var report *smtpd.Parts
	for _, m := range srv.Messages() {
		p := smtpd.Parse(t, m.Data)
		if slices.Equal(m.To, []string{"billing@acme.test"}) && p.Header.Get("Subject") == "Consumption report 2026-03 for acme" {
			report = &p
		}
	}
	if report == nil {
		t.Fatalf("no March report for acme among %d messages", len(srv.Messages()))
	}
	file := report.Files["consumption-acme-2026-03.csv"]
	rows, err := csv.NewReader(strings.NewReader(file)).ReadAll()
	if err != nil || len(rows) < 3 || strings.Join(rows[0], ",") != strings.Join(wire.ConsumptionCSVHeader, ",") {
		t.Fatalf("attachment %q: %v", file, err)
	}
	col := slices.Index(wire.ConsumptionCSVHeader, "days_charged")
	if rows[1][0] != wire.ConsumptionRowDevice || rows[1][2] != "press-01" || rows[1][col] != "1" {
		t.Fatalf("device row %v (days_charged is column %d)", rows[1], col)
	}
	if !strings.Contains(report.Text, "Days charged:   1") || !strings.Contains(report.Text, "Devices:        1") {
		t.Fatalf("body %q", report.Text)
	}
}

// TestReportPastAnAttachmentIsNotCut: the buffer refuses the write that
// would pass its cap, so a report too large is sent without a truncated
// CSV (the body says how to fetch it).
func TestReportPastAnAttachmentIsNotCut(t *testing.T) {
	c := &capped{max: 10}
	if _, err := c.Write([]byte("0123456789")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("x")); err != errTooLarge || c.Len() != 10 {
		t.Fatalf("write past the cap: %v, %d bytes kept", err, c.Len())
	}
}
