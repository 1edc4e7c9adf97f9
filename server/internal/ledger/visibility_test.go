package ledger

import (
	storeTxnAlias "github.com/tollgate-iot/tollgate/server/internal/store"
	"strings"
	"testing"
)

func TestDistributorDescriptionHiddenFromCustomer(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, _ := e.tree()
	in := std("acme")
	in.DistributorDescription, in.CustomerDescription = "PO-4711", "line 3"
	l := e.create(dist, in)
	tests := []struct {
		name    string
		actor   Actor
		visible bool
	}{
		{"issuer-sees", dist, true},
		{"vendor-sees", e.root, true},
		{"owner-does-not", acme, false},
		{"owner-viewer-does-not", as(acme, RoleViewer), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := e.lg.GetLicense(ctx, tc.actor, l.ID)
			if err != nil {
				t.Fatal(err)
			}
			if (got.DistributorDescription == "PO-4711") != tc.visible || got.CustomerDescription != "line 3" {
				t.Fatalf("distributor description %q, customer %q", got.DistributorDescription, got.CustomerDescription)
			}
			list, _, _ := e.lg.ListLicenses(ctx, tc.actor, LicenseFilter{CustomerID: "acme"})
			for _, v := range list {
				if v.ID == l.ID && (v.DistributorDescription != "") != tc.visible {
					t.Fatalf("listing shows %q", v.DistributorDescription)
				}
			}
			audit, _, _ := e.lg.ListAudit(ctx, tc.actor, "", 0)
			for _, a := range audit {
				if strings.Contains(string(a.After), "PO-4711") != tc.visible && a.ObjectID == l.ID {
					t.Fatalf("audit entry shows the distributor description: %s", a.After)
				}
			}
		})
	}
	_, err := e.lg.UpdateLicense(ctx, acme, l.ID, LicenseUpdate{DistributorDescription: new(string)})
	wantErr(t, err, ErrForbidden)
	desc := "customer PO 9"
	if got, err := e.lg.UpdateLicense(ctx, acme, l.ID, LicenseUpdate{CustomerDescription: &desc}); err != nil || got.CustomerDescription != desc {
		t.Fatalf("customer description update: %+v %v", got, err)
	}
	t.Run("still-hidden-after-moving-down", func(t *testing.T) {
		if _, err := e.lg.Sell(ctx, acme, BatchInput{CustomerID: "acme-sub", IDs: []string{l.ID}}); err != nil {
			t.Fatal(err)
		}
		got, _ := e.lg.GetLicense(ctx, acme, l.ID) // acme is now above the owner
		if got.DistributorDescription != "" {
			t.Fatalf("acme reads the distributor's description after selling down: %q", got.DistributorDescription)
		}
		if got, _ := e.lg.GetLicense(ctx, dist, l.ID); got.DistributorDescription != "PO-4711" {
			t.Fatalf("the distributor lost its description: %q", got.DistributorDescription)
		}
		audit, _, _ := e.lg.ListAudit(ctx, acme, "", 0)
		for _, a := range audit {
			if strings.Contains(string(a.Before)+string(a.After), "PO-4711") {
				t.Fatalf("audit shows it to acme: %s", a.After)
			}
		}
	})
}

func TestVATVisibleToParentOnly(t *testing.T) {
	e := newEnv(t)
	e.customer(e.root, "root", "dist")
	dist := admin("dist")
	if _, err := e.lg.CreateCustomer(ctx, dist, CustomerInput{ID: "acme", Name: "Acme", VAT: "DE123"}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		actor Actor
		want  string
	}{
		{"parent", dist, "DE123"},
		{"customer-itself", admin("acme"), ""},
		{"vendor-above-parent", e.root, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := e.lg.GetCustomer(ctx, tc.actor, "acme")
			if err != nil || c.VAT != tc.want {
				t.Fatalf("VAT %q (%v), want %q", c.VAT, err, tc.want)
			}
		})
	}
}

func TestAllowSuperiorManage(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, _ := e.tree()
	e.device(acme, "acme", "dev-1", "sensor-a")
	l := e.create(dist, std("acme"))
	_, err := e.lg.Bind(ctx, dist, l.ID, BindInput{DeviceID: "dev-1"})
	wantErr(t, err, ErrForbidden)
	_, err = e.lg.UpdateCustomer(ctx, dist, "acme", CustomerUpdate{AllowSuperiorManage: ptr(true)})
	wantErr(t, err, ErrForbidden) // only acme gives the consent
	if _, err := e.lg.UpdateCustomer(ctx, acme, "acme", CustomerUpdate{AllowSuperiorManage: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	e.bind(dist, l.ID, "dev-1")
	// The vendor two levels up also needs dist's consent.
	_, err = e.lg.Unbind(ctx, e.root, l.ID)
	wantErr(t, err, ErrForbidden)
	e.lg.UpdateCustomer(ctx, dist, "dist", CustomerUpdate{AllowSuperiorManage: ptr(true)})
	if _, err := e.lg.Unbind(ctx, e.root, l.ID); err != nil {
		t.Fatalf("vendor with consent of every link: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }

func TestSiblingSeesNothing(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, beta := e.tree()
	e.device(acme, "acme", "dev-1", "sensor-a")
	l := e.create(dist, std("acme"))
	if _, err := e.lg.GetLicense(ctx, beta, l.ID); err == nil {
		t.Fatal("sibling read a license")
	}
	if _, err := e.lg.GetDevice(ctx, beta, "dev-1"); err == nil {
		t.Fatal("sibling read a device")
	}
	if _, err := e.lg.GetCustomer(ctx, beta, "acme"); err == nil {
		t.Fatal("sibling read a customer")
	}
	ls, _, _ := e.lg.ListLicenses(ctx, beta, LicenseFilter{})
	for _, v := range ls {
		if v.CustomerID != "beta" {
			t.Fatalf("sibling lists %s's license", v.CustomerID)
		}
	}
}

func TestRolesLimitActions(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, _ := e.tree()
	e.device(acme, "acme", "dev-1", "sensor-a")
	l := e.create(dist, std("acme"))
	_, err := e.lg.Bind(ctx, as(acme, RoleViewer), l.ID, BindInput{DeviceID: "dev-1"})
	wantErr(t, err, ErrForbidden)
	e.bind(as(acme, RoleOperator), l.ID, "dev-1")
	_, err = e.lg.SetRenew(ctx, as(acme, RoleOperator), l.ID, false)
	wantErr(t, err, ErrForbidden)
}

func TestFirstUserOfCustomerByIssuerOnly(t *testing.T) {
	e := newEnv(t)
	e.customer(e.root, "root", "dist")
	dist := admin("dist")
	e.customer(dist, "dist", "acme")
	u, key, err := e.lg.CreateUser(ctx, dist, "acme", "it@acme.test", RoleAdmin)
	if err != nil || !strings.HasPrefix(key, APIKeyPrefix) {
		t.Fatalf("first user: %v", err)
	}
	_, _, err = e.lg.CreateUser(ctx, dist, "acme", "spy@dist.test", RoleAdmin)
	wantErr(t, err, ErrForbidden) // a second key would bypass allow_superior_manage
	a, err := e.lg.Authenticate(ctx, key)
	if err != nil || a.CustomerID != "acme" || a.UserID != u.ID {
		t.Fatalf("Authenticate = %+v %v", a, err)
	}
	if _, _, err := e.lg.CreateUser(ctx, a, "acme", "ops@acme.test", RoleViewer); err != nil {
		t.Fatalf("customer adds its own user: %v", err)
	}
	if _, err := e.lg.RevokeUser(ctx, a, u.ID); err != nil {
		t.Fatal(err)
	}
	_, err = e.lg.Authenticate(ctx, key)
	wantErr(t, err, ErrUnauthenticated)
}

func TestAPIKeyStoredOnlyAsHash(t *testing.T) {
	e := newEnv(t)
	_, key, err := e.lg.CreateUser(ctx, e.root, "root", "second@vendor.test", RoleViewer)
	if err != nil {
		t.Fatal(err)
	}
	users, _ := e.lg.ListUsers(ctx, e.root, "root")
	for _, u := range users {
		if u.KeyHash != "" {
			t.Fatal("listing exposes a key hash")
		}
	}
	var leaked bool
	n := 0
	e.lg.db.View(func(x *storeTxn) error {
		return x.Scan(nil, nil, true, func(k, v []byte) (bool, error) {
			n++
			leaked = leaked || strings.Contains(string(v), key) || strings.Contains(string(k), key)
			return true, nil
		})
	})
	if n < 5 {
		t.Fatalf("scanned only %d records", n)
	}
	if leaked {
		t.Fatal("the API key is stored in clear")
	}
	_, err = e.lg.Authenticate(ctx, key+"x")
	wantErr(t, err, ErrUnauthenticated)
}

type storeTxn = storeTxnAlias.Txn

func TestCustomerSeesDescendantsHistory(t *testing.T) {
	e := newEnv(t)
	dist, acme, sub, _ := e.tree()
	e.device(sub, "acme-sub", "sub-dev", "sensor-a")
	l := e.create(dist, std("acme-sub"))
	e.bind(sub, l.ID, "sub-dev")
	for _, a := range []Actor{acme, dist, e.root} {
		entries, _, err := e.lg.ListAudit(ctx, a, "", 0)
		if err != nil || len(entries) == 0 || entries[0].Action != "license.bind" || entries[0].ObjectID != l.ID {
			t.Fatalf("%s does not see its descendant's bind: %+v %v", a.CustomerID, entries, err)
		}
		if _, err := e.lg.GetDevice(ctx, a, "sub-dev"); err != nil {
			t.Fatalf("%s does not see the descendant's device: %v", a.CustomerID, err)
		}
	}
	if got, _, _ := e.lg.ListAudit(ctx, sub, "", 0); len(got) == 0 {
		t.Fatal("the customer does not see its own history")
	}
	// acme-sub sees nothing above it.
	if _, err := e.lg.GetCustomer(ctx, sub, "acme"); err == nil {
		t.Fatal("a sub-customer reads its parent")
	}
}
