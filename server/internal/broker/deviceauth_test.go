package broker

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/shared/clock"
	"github.com/tollgate-iot/tollgate/shared/token"
)

var authNow = time.Date(2027, 1, 10, 12, 0, 0, 0, time.UTC)

type fakeLedger struct {
	standing func(deviceID, licenseID string) (Standing, error)
	services func(name, key string) ([]string, error)
}

func (f fakeLedger) DeviceStanding(_ context.Context, d, l string) (Standing, error) {
	return f.standing(d, l)
}
func (f fakeLedger) ServiceCustomers(_ context.Context, n, k string) ([]string, error) {
	return f.services(n, k)
}

func key(name string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte(name))
	return ed25519.NewKeyFromSeed(seed[:])
}

func issue(t *testing.T, signer string, f func(*token.License)) string {
	t.Helper()
	s, err := token.NewSigner(key(signer))
	if err != nil {
		t.Fatal(err)
	}
	l := &token.License{
		LicenseID: "6f1c2a7e-0b3d-4e5f-8a9b-0c1d2e3f4a5b", Serial: "TG-1", CustomerID: "acme", DeviceID: "gw1",
		DeviceKey: strings.Repeat("ab", 32), Models: []string{"*"}, Type: token.TypeStandard,
		Billing: token.BillingTerm, Enforcement: token.EnforcementEnforce, Features: []string{},
		NotBefore: authNow.Add(-time.Hour).Unix(), NotAfter: authNow.Add(48 * time.Hour).Unix(),
		Version: 1, IssuedAt: authNow.Unix(),
	}
	if f != nil {
		f(l)
	}
	text, err := token.IssueLicense(s, l)
	if err != nil {
		t.Fatal(err)
	}
	return text
}

func TestTokenAuthorizer(t *testing.T) {
	trust, err := token.NewTrust(key("server").Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	ledger := fakeLedger{
		standing: func(d, l string) (Standing, error) {
			switch d {
			case "gw1":
				return Standing{CustomerID: "acme", Children: []string{"child1"}, Until: authNow.Add(24 * time.Hour)}, nil
			case "moved":
				return Standing{CustomerID: "other"}, nil
			case "rebound":
				return Standing{CustomerID: "acme", MinVersion: 4}, nil
			}
			return Standing{}, errors.New("device blacklisted")
		},
		services: func(n, k string) ([]string, error) {
			if k != "good-key" {
				return nil, errors.New("unknown api key")
			}
			return []string{"acme", "acme-sub"}, nil
		},
	}
	a := &TokenAuthorizer{Trust: func() *token.Trust { return trust }, Ledger: ledger, Clock: clock.NewFake(authNow)}
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, user, pass string
		wantErr          bool
		check            func(*testing.T, Grant)
	}{
		{"ok/gateway", "gw1", issue(t, "server", nil), false, func(t *testing.T, g Grant) {
			want := []string{"tollgate/v1/acme/gw1/#", "tollgate/v1/acme/child1/#"}
			if !slices.Equal(g.Publish, want) || !slices.Equal(g.Subscribe, []string{"tollgate/v1/acme/gw1/control"}) {
				t.Fatalf("grant %+v", g)
			}
			if !g.Deadline.Equal(authNow.Add(24 * time.Hour)) {
				t.Fatalf("deadline %v, want the ledger's earlier end", g.Deadline)
			}
			if g.Identity != "gw1" || g.Instances {
				t.Fatalf("identity %q, instances %v: a device's client id is its id alone", g.Identity, g.Instances)
			}
		}},
		{"ok/service", "svc:dash", "good-key", false, func(t *testing.T, g Grant) {
			if len(g.Publish) != 0 || !slices.Equal(g.Subscribe, []string{"tollgate/v1/acme/+/telemetry", "tollgate/v1/acme-sub/+/telemetry"}) {
				t.Fatalf("grant %+v", g)
			}
			if g.Identity != "svc:dash" || !g.Instances {
				t.Fatalf("identity %q, instances %v: an application may run instances", g.Identity, g.Instances)
			}
		}},
		{"error/token-for-another-device", "child1", issue(t, "server", nil), true, nil},
		{"error/unknown-signer", "gw1", issue(t, "stranger", nil), true, nil},
		{"error/expired", "gw1", issue(t, "server", func(l *token.License) { l.NotAfter = authNow.Unix() }), true, nil},
		{"error/blacklisted", "d9", issue(t, "server", func(l *token.License) { l.DeviceID = "d9" }), true, nil},
		{"error/moved-customer", "moved", issue(t, "server", func(l *token.License) { l.DeviceID = "moved" }), true, nil},
		{"ok/version-at-minimum", "rebound", issue(t, "server", func(l *token.License) { l.DeviceID, l.Version = "rebound", 4 }), false,
			func(t *testing.T, g Grant) {}},
		{"error/superseded-version", "rebound", issue(t, "server", func(l *token.License) { l.DeviceID, l.Version = "rebound", 3 }), true, nil},
		{"error/garbage-password", "gw1", "hunter2", true, nil},
		{"error/bad-username", "gw/1", issue(t, "server", nil), true, nil},
		{"error/service-bad-key", "svc:dash", "bad-key", true, nil},
		{"error/service-bad-name", "svc:a/b", "good-key", true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := a.Authorize(context.Background(), tt.user, tt.pass, nil)
			if tt.wantErr {
				if !errors.Is(err, ErrDenied) {
					t.Fatalf("Authorize = %+v, %v; want ErrDenied", g, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, g)
		})
	}
}

// TestTokenAuthorizerWithRealBroker connects with a real token as MQTT
// password: the device may publish for itself and its child, and a device
// the ledger refuses is turned away at CONNECT.
func TestTokenAuthorizerWithRealBroker(t *testing.T) {
	trust, _ := token.NewTrust(key("server").Public().(ed25519.PublicKey))
	ledger := fakeLedger{
		standing: func(d, _ string) (Standing, error) {
			if d == "gw1" {
				return Standing{CustomerID: "acme", Children: []string{"child1"}}, nil
			}
			return Standing{}, errors.New("device blacklisted")
		},
		services: func(_, k string) ([]string, error) { return []string{"acme"}, nil },
	}
	// The broker enforces deadlines on the real clock, so the token's
	// window is around the real now.
	now := clock.Real{}.Now()
	window := func(l *token.License) {
		l.NotBefore, l.NotAfter = now.Add(-time.Hour).Unix(), now.Add(time.Hour).Unix()
	}
	b := startBroker(t, &TokenAuthorizer{Trust: func() *token.Trust { return trust }, Ledger: ledger})
	svc := mustConnectWith(t, b, "svc:dash", "any")
	got := subscribe(t, svc, "tollgate/v1/acme/+/telemetry")
	gw := mustConnectWith(t, b, "gw1", issue(t, "server", window))
	publish(t, gw, "tollgate/v1/acme/child1/telemetry", "from child")
	if m := next(t, got); m != "tollgate/v1/acme/child1/telemetry from child" {
		t.Fatalf("got %q", m)
	}
	if _, err := connect(t, b, "d9", issue(t, "server", func(l *token.License) { window(l); l.DeviceID = "d9" })); err == nil {
		t.Fatal("blacklisted device connected")
	}
}

func mustConnectWith(t *testing.T, b *Broker, user, pass string) *client {
	t.Helper()
	c, err := connect(t, b, user, pass)
	if err != nil {
		t.Fatalf("connect %s: %v", user, err)
	}
	return c
}
