package cli

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tollgate-iot/tollgate/server/internal/app"
	"github.com/tollgate-iot/tollgate/server/internal/keys"
	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/server/internal/store/storetest"
	"github.com/tollgate-iot/tollgate/shared/clock"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// openTestLedger opens the ledger of data on spec with data's keys.
func openTestLedger(t *testing.T, data, spec string) (*store.DB, *ledger.Ledger, *keys.Store) {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ks, err := keys.Open(data, clock.Real{})
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.OpenEngine(context.Background(), spec, store.Options{Dir: app.LedgerDir(data), Profile: store.ProfileSmall, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	lg, err := ledger.New(ledger.Options{DB: db, Clock: clock.Real{}, Keys: ks, Logger: quiet})
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	return db, lg, ks
}

// buildLedger makes a data directory holding what the demo's server holds
// after a day: a distributor and its customer, two devices, a day license
// and a term license bound to them, and a sync of the day device with a
// deduction and hourly counts. It returns the day license's id.
func buildLedger(t *testing.T) (string, string) {
	t.Helper()
	dir := t.TempDir()
	if code, _, stderr := run(t, "init", "--data", dir, "--name", "Tollgate Vendor"); code != 0 {
		t.Fatalf("init: %s", stderr)
	}
	db, lg, _ := openTestLedger(t, dir, "badger")
	defer db.Close()
	ctx := context.Background()
	root := ledger.Actor{UserID: "u-root", CustomerID: lg.RootID(), Role: ledger.RoleAdmin}
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	_, err := lg.CreateCustomer(ctx, root, ledger.CustomerInput{ID: "northwind", Name: "Northwind Distribution", ParentID: lg.RootID(), Email: "ops@northwind.test"})
	must("customer northwind", err)
	on, months, maxDays := true, []int{12, 24, 36}, int64(0)
	_, err = lg.UpdateCustomer(ctx, root, "northwind", ledger.CustomerUpdate{Issuer: &ledger.IssuerUpdate{Issuer: &on, AllowedMonths: &months, MaxDays: &maxDays}})
	must("northwind an issuer", err)
	northwind := ledger.Actor{UserID: "u-northwind", CustomerID: "northwind", Role: ledger.RoleAdmin}
	acme := ledger.Actor{UserID: "u-acme", CustomerID: "acme", Role: ledger.RoleAdmin}
	_, err = lg.CreateCustomer(ctx, northwind, ledger.CustomerInput{ID: "acme", Name: "Acme Plastics", ParentID: "northwind", Email: "it@acme.test"})
	must("customer acme", err)
	for _, id := range []string{"press-01", "press-02"} {
		pub, _, err := ed25519.GenerateKey(rand.Reader)
		must("key", err)
		_, err = lg.CreateDevice(ctx, acme, ledger.DeviceInput{ID: id, CustomerID: "acme", Model: "sensor-a", PublicKey: token.EncodePublicKey(pub)})
		must("device "+id, err)
	}
	days, err := lg.CreateLicenses(ctx, northwind, ledger.LicenseInput{CustomerID: "acme", Type: token.TypeStandard, Billing: token.BillingDays,
		Models: []string{"sensor-*"}, Days: 3})
	must("day license", err)
	term, err := lg.CreateLicenses(ctx, northwind, ledger.LicenseInput{CustomerID: "acme", Type: token.TypeStandard, Billing: token.BillingTerm,
		Months: 12, Models: []string{"sensor-*"}, MaxSamplesPerHour: 40})
	must("term license", err)
	_, err = lg.Bind(ctx, acme, days[0].ID, ledger.BindInput{DeviceID: "press-01"})
	must("bind press-01", err)
	_, err = lg.Bind(ctx, acme, term[0].ID, ledger.BindInput{DeviceID: "press-02"})
	must("bind press-02", err)
	at := clock.Real{}.Now().Add(-3 * time.Hour).Truncate(time.Second)
	nonce := make([]byte, 16)
	_, err = rand.Read(nonce)
	must("nonce", err)
	r := &syncproto.Report{DeviceID: "press-01", Nonce: base64.RawURLEncoding.EncodeToString(nonce), SentAt: at.Add(2 * time.Hour).Unix(),
		Tokens:     []syncproto.TokenVersion{},
		Deductions: []syncproto.Deduction{{Seq: 1, LicenseID: days[0].ID, At: at.Unix(), PaidUntil: at.Add(24 * time.Hour).Unix(), DaysBefore: 3, DaysAfter: 2}},
		Counts: []syncproto.HourlyCount{{DeviceID: "press-01", Hour: at.Truncate(time.Hour).Unix(), Accepted: 60},
			{DeviceID: "press-01", Hour: at.Truncate(time.Hour).Add(time.Hour).Unix(), Accepted: 58}}}
	_, err = lg.Reconcile(ctx, "press-01", r)
	must("sync of press-01", err)
	return dir, days[0].ID
}

// ledgerAnswers is what a copy of a ledger must answer as its source does.
type ledgerAnswers struct {
	Stats      string
	Deductions string
	Sync       string
	Token      string
}

// answersOf opens the ledger of data on spec and asks it the questions
// the copies are compared on; the license token must verify with data's
// keys.
func answersOf(t *testing.T, data, spec, licID string) ledgerAnswers {
	t.Helper()
	db, lg, ks := openTestLedger(t, data, spec)
	defer db.Close()
	ctx := context.Background()
	enc := func(v any, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	st, err := lg.Stats(ctx, ledger.SystemActor(), lg.RootID())
	if err != nil {
		t.Fatal(err)
	}
	st.At = time.Time{} // the time of the question
	ds, err := lg.ListDeductions(ctx, ledger.SystemActor(), licID)
	if err != nil || len(ds) != 1 || ds[0].Seq != 1 {
		t.Fatalf("deductions of %s on %s: %+v %v; want the synced day", licID, store.RedactURL(spec), ds, err)
	}
	tok, err := lg.LicenseToken(ctx, ledger.SystemActor(), licID)
	if err != nil {
		t.Fatal(err)
	}
	trust, err := ks.Trust()
	if err != nil {
		t.Fatal(err)
	}
	l, err := token.Verify(trust, tok.Token, clock.Real{}.Now())
	if err != nil || l.LicenseID != licID || l.DeviceID != "press-01" {
		t.Fatalf("the license token from %s does not verify with the keys: %+v %v", store.RedactURL(spec), l, err)
	}
	return ledgerAnswers{Stats: enc(st, nil), Deductions: enc(ds, nil),
		Sync: enc(lg.DeviceSyncStatus(ctx, ledger.SystemActor(), "press-01")), Token: tok.Token}
}

// TestMigrateStoreIntoPostgres: migrate-store copies a badger ledger into
// an empty PostgreSQL database; a ledger opened there answers as the
// badger one did (stats, the license's deductions, the device's sync
// state, a token that verifies with the data directory's keys), and the
// badger ledger is unchanged. A second run, now into a non-empty
// database, is refused and changes nothing.
func TestMigrateStoreIntoPostgres(t *testing.T) {
	pg := storetest.PostgresURL(t)
	dir, lic := buildLedger(t)
	want := answersOf(t, dir, "badger", lic)
	code, stdout, stderr := run(t, "migrate-store", "--data", dir, "--to", pg, "-o", "json")
	if code != 0 {
		t.Fatalf("migrate-store: %d %s", code, stderr)
	}
	var res dumpResult
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("migrate-store -o json printed %q: %v", stdout, err)
	}
	if res.Records < 20 || res.Bytes == 0 || len(res.SHA256) != 64 || res.Duration == "" ||
		!strings.Contains(res.SigningKeys, "stay in "+filepath.Join(dir, "keys")) {
		t.Fatalf("summary %+v", res)
	}
	if got := answersOf(t, dir, pg, lic); got != want {
		t.Fatalf("the PostgreSQL copy answers\n%+v\nthe badger ledger\n%+v", got, want)
	}
	if got := answersOf(t, dir, "badger", lic); got != want {
		t.Fatal("migrate-store changed the badger ledger")
	}
	db, err := store.OpenPostgres(context.Background(), pg, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(context.Background(), pg)
	if err != nil {
		t.Fatal(err)
	}
	var versions int
	err = conn.QueryRow(context.Background(), "SELECT count(*) FROM tollgate_schema").Scan(&versions)
	conn.Close(context.Background())
	if err != nil || versions == 0 {
		t.Fatalf("schema versions recorded: %d %v", versions, err)
	}
	before, err := db.Digest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	code, _, stderr = run(t, "migrate-store", "--data", dir, "--to", pg)
	if code != 1 || !strings.HasPrefix(stderr, "error: target_not_empty: ") {
		t.Fatalf("migrate-store into a non-empty database: %d %q", code, stderr)
	}
	db, err = store.OpenPostgres(context.Background(), pg, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if after, err := db.Digest(context.Background()); err != nil || after.Digest != before.Digest {
		t.Fatalf("a refused migrate-store changed the database (%v)", err)
	}
}

// TestMigrateStoreRefusals: a badger ledger a server holds is refused with
// what to do, and nothing reaches the database; --to must be a PostgreSQL
// URL; the directory must be initialized.
func TestMigrateStoreRefusals(t *testing.T) {
	pg := storetest.PostgresURL(t)
	dir, _ := buildLedger(t)
	held, err := store.Open(store.Options{Dir: app.LedgerDir(dir), Profile: store.ProfileSmall, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	code, _, stderr := run(t, "migrate-store", "--data", dir, "--to", pg)
	held.Close()
	if code != 1 || !strings.HasPrefix(stderr, "error: data_in_use: a running tollgate-server holds ") || !strings.Contains(stderr, "stop it first") {
		t.Fatalf("migrate-store beside a running server: %d %q", code, stderr)
	}
	db, err := store.OpenPostgres(context.Background(), pg, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	empty, err := db.Empty()
	db.Close()
	if err != nil || !empty {
		t.Fatalf("a refused migrate-store wrote to the database (%v)", err)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--data", dir, "--to", "mysql://u:s3cret@db/x"}, 2, "error: usage: --to mysql://u:xxxxx@db/x: give a postgres:// URL"},
		{[]string{"--data", dir}, 2, "error: usage: --to is required"},
		{[]string{"--to", pg}, 2, "error: usage: --data is required"},
		{[]string{"--data", filepath.Join(dir, "missing"), "--to", pg}, 1, "error: not_initialized: "},
	} {
		code, _, stderr := run(t, append([]string{"migrate-store"}, tc.args...)...)
		if code != tc.code || !strings.HasPrefix(stderr, tc.want) || strings.Contains(stderr, "s3cret") {
			t.Errorf("migrate-store %v: %d %q, want %d %q", tc.args, code, stderr, tc.code, tc.want)
		}
	}
}

// copyKeys copies data's keys/ into dir with the modes the key store
// requires, as an operator restores the keys from their own backup.
func copyKeys(t *testing.T, data, dir string) {
	t.Helper()
	dst := filepath.Join(dir, "keys")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(dst, os.DirFS(filepath.Join(data, "keys"))); err != nil {
		t.Fatal(err)
	}
	err := filepath.WalkDir(dst, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.Chmod(p, 0o700)
		}
		return os.Chmod(p, 0o600)
	})
	if err != nil {
		t.Fatal(fmt.Errorf("copy keys: %w", err))
	}
}
