package ledger

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"testing"

	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/limits"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// TestGatewayChildrenCapped: a gateway's agent relays at most
// limits.MaxGatewayChildren devices (and a revocation list carries at most
// that many). The ledger refuses the next child, naming the gateway and
// the way out, and keeps the device out entirely; another gateway still
// takes it.
func TestGatewayChildrenCapped(t *testing.T) {
	e := newEnv(t)
	e.customer(e.root, "root", "acme")
	e.device(admin("acme"), "acme", "gw-1", "sensor-gw")
	e.device(admin("acme"), "acme", "gw-2", "sensor-gw")
	// Creating 10,000 devices one request each takes a minute; the cap
	// counts gw-1's child index, so all but the last two children are
	// written to that index directly, in batches, and the last two are
	// created for real.
	const batch = 2_000
	for from := 0; from < limits.MaxGatewayChildren-2; from += batch {
		err := e.lg.update(func(o *op) error {
			for i := from; i < min(from+batch, limits.MaxGatewayChildren-2); i++ {
				if err := o.x.Put(store.GatewayChildKey("gw-1", fmt.Sprintf("c-%05d", i)), nil); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	e.childDevice("acme", "real-1", "gw-1")
	e.childDevice("acme", "real-2", "gw-1")
	_, err := e.lg.CreateDevice(ctx, admin("acme"), DeviceInput{ID: "one-more", CustomerID: "acme", Model: "sensor-a",
		PublicKey: e.newPublicKey(), GatewayID: "gw-1"})
	if !errors.Is(err, ErrCapacity) {
		t.Fatalf("child %d of gw-1: %v, want %v", limits.MaxGatewayChildren+1, err, ErrCapacity)
	}
	if _, err := e.lg.GetDevice(ctx, admin("acme"), "one-more"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the refused child was kept: %v", err)
	}
	e.childDevice("acme", "one-more", "gw-2")
}

// TestDeviceLicensesCapped: an agent keeps at most
// limits.MaxLicensesPerDevice licenses per device, so the ledger binds no
// more; the refused bind changes nothing.
func TestDeviceLicensesCapped(t *testing.T) {
	e := newEnv(t)
	e.customer(e.root, "root", "acme")
	e.device(admin("acme"), "acme", "dev-1", "sensor-a")
	for range limits.MaxLicensesPerDevice {
		l := e.create(e.root, days("acme", 10))
		if _, err := e.lg.Bind(ctx, admin("acme"), l.ID, BindInput{DeviceID: "dev-1"}); err != nil {
			t.Fatalf("bind: %v", err)
		}
	}
	extra := e.create(e.root, days("acme", 10))
	if _, err := e.lg.Bind(ctx, admin("acme"), extra.ID, BindInput{DeviceID: "dev-1"}); !errors.Is(err, ErrCapacity) {
		t.Fatalf("license %d on dev-1: %v, want %v", limits.MaxLicensesPerDevice+1, err, ErrCapacity)
	}
	if got := e.get(extra.ID); got.DeviceID != "" || got.Status != extra.Status {
		t.Fatalf("refused bind left %+v", got)
	}
}

func (e *env) newPublicKey() string {
	e.t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		e.t.Fatal(err)
	}
	return token.EncodePublicKey(pub)
}

func (e *env) childDevice(customer, id, gateway string) {
	e.t.Helper()
	if _, err := e.lg.CreateDevice(ctx, admin("acme"), DeviceInput{ID: id, CustomerID: customer, Model: "sensor-a",
		PublicKey: e.newPublicKey(), GatewayID: gateway}); err != nil {
		e.t.Fatalf("CreateDevice %s under %s: %v", id, gateway, err)
	}
}
