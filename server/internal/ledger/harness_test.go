package ledger

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/keys"
	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/server/internal/store/storetest"
	"github.com/tollgate-iot/tollgate/shared/clock"
	"github.com/tollgate-iot/tollgate/shared/token"
)

var ctx = context.Background()

// epoch is mid-month so that "1st of next month" is visible.
var epoch = time.Date(2026, 3, 14, 10, 0, 0, 0, time.UTC)

type env struct {
	t    *testing.T
	lg   *Ledger
	clk  *clock.Fake
	ks   *keys.Store
	root Actor
}

func newEnv(t *testing.T) *env {
	t.Helper()
	clk := clock.NewFake(epoch)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	// TOLLGATE_TEST_STORE=postgres runs the ledger on PostgreSQL.
	db := storetest.Open(t, store.Options{Profile: store.ProfileSmall, Clock: clk, Logger: quiet})
	ks, err := keys.Open(t.TempDir(), clk)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ks.Rotate(); err != nil {
		t.Fatal(err)
	}
	lg, err := New(Options{DB: db, Clock: clk, Keys: ks, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	root, user, key, err := lg.Bootstrap(ctx, "Vendor", "ops@vendor.test")
	if err != nil {
		t.Fatal(err)
	}
	a, err := lg.Authenticate(ctx, key)
	if err != nil || a.UserID != user.ID || a.CustomerID != root.ID {
		t.Fatalf("Authenticate(bootstrap key) = %+v, %v", a, err)
	}
	return &env{t: t, lg: lg, clk: clk, ks: ks, root: a}
}

// admin returns an admin actor of customer id (authentication is tested
// on its own; the ledger trusts the actor it is given).
func admin(id string) Actor { return Actor{UserID: "u-" + id, CustomerID: id, Role: RoleAdmin} }

func as(a Actor, r Role) Actor { a.Role = r; return a }

func (e *env) customer(a Actor, parent, id string) *Customer {
	e.t.Helper()
	c, err := e.lg.CreateCustomer(ctx, a, CustomerInput{ID: id, Name: id, ParentID: parent, Email: id + "@example.test"})
	if err != nil {
		e.t.Fatalf("CreateCustomer %s: %v", id, err)
	}
	return c
}

// tree builds root → dist → acme → acme-sub, plus dist → beta, and returns
// admin actors of each.
func (e *env) tree() (dist, acme, sub, beta Actor) {
	e.customer(e.root, "root", "dist")
	e.grantIssuer("dist", IssuerLimits{})
	e.customer(admin("dist"), "dist", "acme")
	e.customer(admin("acme"), "acme", "acme-sub")
	e.customer(admin("dist"), "dist", "beta")
	return admin("dist"), admin("acme"), admin("acme-sub"), admin("beta")
}

// grantIssuer makes customer id an issuer, as the vendor does for a
// distributor.
func (e *env) grantIssuer(id string, lim IssuerLimits) {
	e.t.Helper()
	on := true
	u := &IssuerUpdate{Issuer: &on, AllowedMonths: &lim.AllowedMonths, MaxDays: &lim.MaxDays}
	if _, err := e.lg.UpdateCustomer(ctx, e.root, id, CustomerUpdate{Issuer: u}); err != nil {
		e.t.Fatalf("grant issuer %s: %v", id, err)
	}
}

func (e *env) device(a Actor, customer, id, model string) *Device {
	e.t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		e.t.Fatal(err)
	}
	d, err := e.lg.CreateDevice(ctx, a, DeviceInput{ID: id, CustomerID: customer, Model: model, PublicKey: token.EncodePublicKey(pub)})
	if err != nil {
		e.t.Fatalf("CreateDevice %s: %v", id, err)
	}
	return d
}

func std(customer string) LicenseInput {
	return LicenseInput{CustomerID: customer, Type: token.TypeStandard, Billing: token.BillingTerm,
		Models: []string{"sensor-*"}, MaxSamplesPerHour: 1000}
}

func days(customer string, n int64) LicenseInput {
	return LicenseInput{CustomerID: customer, Type: token.TypeStandard, Billing: token.BillingDays,
		Models: []string{"sensor-*"}, Days: n}
}

func (e *env) create(a Actor, in LicenseInput) *LicenseView {
	e.t.Helper()
	ls, err := e.lg.CreateLicenses(ctx, a, in)
	if err != nil {
		e.t.Fatalf("CreateLicenses: %v", err)
	}
	return &ls[0]
}

func (e *env) get(id string) *LicenseView {
	e.t.Helper()
	l, err := e.lg.GetLicense(ctx, SystemActor(), id)
	if err != nil {
		e.t.Fatalf("GetLicense %s: %v", id, err)
	}
	return l
}

func (e *env) status(id string) Status { return e.get(id).Status }

func (e *env) bind(a Actor, id, dev string) *BindResult {
	e.t.Helper()
	r, err := e.lg.Bind(ctx, a, id, BindInput{DeviceID: dev})
	if err != nil {
		e.t.Fatalf("Bind %s → %s: %v", id, dev, err)
	}
	return r
}

// listOf is the verified revocation list signed for one device.
func (e *env) listOf(dev string) *token.RevocationList {
	e.t.Helper()
	s, err := e.lg.DeviceRevocationList(ctx, SystemActor(), dev)
	if err != nil {
		e.t.Fatal(err)
	}
	trust, err := e.ks.Trust()
	if err != nil {
		e.t.Fatal(err)
	}
	r, err := token.ParseRevocationList(trust, s.Token)
	if err != nil {
		e.t.Fatalf("revocation list of %s does not verify: %v", dev, err)
	}
	if r.DeviceID != dev || s.DeviceID != dev {
		e.t.Fatalf("list asked for %s is signed for %s", dev, r.DeviceID)
	}
	return r
}

// revocationList is what reaches the fleet: the union of the lists
// signed for every device, at the current seq.
func (e *env) revocationList() *token.RevocationList {
	e.t.Helper()
	h, err := e.lg.RevocationHead(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	out := &token.RevocationList{Seq: h.Seq, IssuedAt: h.IssuedAt.Unix(), NextUpdate: h.NextUpdate.Unix(),
		RevokedLicenses: []string{}, SuspendedLicenses: []string{}, BlacklistedDevices: []string{}, SupersededLicenses: []string{}}
	cursor := ""
	for {
		ds, next, err := e.lg.ListDevices(ctx, e.root, "", cursor, MaxPageSize)
		if err != nil {
			e.t.Fatal(err)
		}
		for _, d := range ds {
			r := e.listOf(d.ID)
			if r.Seq != h.Seq {
				e.t.Fatalf("list of %s has seq %d, head %d", d.ID, r.Seq, h.Seq)
			}
			out.RevokedLicenses = append(out.RevokedLicenses, r.RevokedLicenses...)
			out.SuspendedLicenses = append(out.SuspendedLicenses, r.SuspendedLicenses...)
			out.BlacklistedDevices = append(out.BlacklistedDevices, r.BlacklistedDevices...)
			out.SupersededLicenses = append(out.SupersededLicenses, r.SupersededLicenses...)
		}
		if cursor = next; cursor == "" {
			break
		}
	}
	for _, l := range []*[]string{&out.RevokedLicenses, &out.SuspendedLicenses, &out.BlacklistedDevices, &out.SupersededLicenses} {
		slices.Sort(*l)
		*l = slices.Compact(*l)
	}
	return out
}

func (e *env) trial(customer string) *LicenseView {
	e.t.Helper()
	ls, _, err := e.lg.ListLicenses(ctx, SystemActor(), LicenseFilter{CustomerID: customer, Type: token.TypeTrial})
	if err != nil || len(ls) == 0 {
		e.t.Fatalf("no trial for %s: %v", customer, err)
	}
	return &ls[0]
}

func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error = %v, want %v", err, want)
	}
}
