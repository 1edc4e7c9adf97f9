package ledger

import (
	"crypto/ed25519"
	"crypto/rand"
	"slices"
	"testing"

	"github.com/tollgate-iot/tollgate/shared/token"
)

func TestDeviceStanding(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, _ := e.tree()
	e.device(acme, "acme", "gw-1", "sensor-gw")
	for _, c := range []string{"child-b", "child-a"} {
		pub, _, _ := ed25519.GenerateKey(rand.Reader)
		if _, err := e.lg.CreateDevice(ctx, acme, DeviceInput{ID: c, CustomerID: "acme", Model: "m", GatewayID: "gw-1", PublicKey: token.EncodePublicKey(pub)}); err != nil {
			t.Fatal(err)
		}
	}
	e.device(acme, "acme", "dev-2", "sensor-a")
	bound := e.create(dist, std("acme"))
	e.bind(acme, bound.ID, "gw-1")
	spare := e.create(dist, std("acme"))
	last := e.create(dist, days("acme", 1))
	e.bind(acme, last.ID, "dev-2")
	e.lg.Deduct(ctx, DeductInput{DeviceID: "dev-2", Seq: 1})

	st, err := e.lg.DeviceStanding(ctx, "gw-1", bound.ID)
	if err != nil || st.CustomerID != "acme" || !slices.Equal(st.Children, []string{"child-a", "child-b"}) || !st.Until.IsZero() {
		t.Fatalf("gateway standing %+v, %v", st, err)
	}
	if st, err := e.lg.DeviceStanding(ctx, "dev-2", last.ID); err != nil || !st.Until.Equal(e.clk.Now().Add(Day)) {
		t.Fatalf("last paid day: %+v, %v", st, err)
	}
	tests := []struct {
		name    string
		device  string
		license string
		prepare func()
		want    error
	}{
		{"error/unknown-device", "nope", bound.ID, nil, ErrNotFound},
		{"error/not-bound-here", "gw-1", spare.ID, nil, ErrNotBound},
		{"error/bad-license-id", "gw-1", "x", nil, ErrNotFound},
		{"error/suspended", "gw-1", bound.ID, func() { e.lg.Suspend(ctx, dist, bound.ID) }, ErrSuspended},
		{"error/blacklisted", "gw-1", bound.ID, func() { e.lg.SetBlacklist(ctx, acme, "gw-1", true, "stolen") }, ErrBlacklisted},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.prepare != nil {
				tc.prepare()
			}
			_, err := e.lg.DeviceStanding(ctx, tc.device, tc.license)
			wantErr(t, err, tc.want)
		})
	}
}

func TestServiceCustomersAreTheKeysSubtree(t *testing.T) {
	e := newEnv(t)
	e.tree()
	_, key, err := e.lg.CreateUser(ctx, admin("dist"), "acme", "dash@acme.test", RoleViewer)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := e.lg.ServiceCustomers(ctx, "grafana", key)
	if err != nil || !slices.Equal(ids, []string{"acme", "acme-sub"}) {
		t.Fatalf("ServiceCustomers = %v, %v", ids, err)
	}
	_, err = e.lg.ServiceCustomers(ctx, "grafana", key+"x")
	wantErr(t, err, ErrUnauthenticated)
	_, err = e.lg.ServiceCustomers(ctx, "graf/ana", key)
	wantErr(t, err, ErrInvalid)
}
