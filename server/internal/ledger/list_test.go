package ledger

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/shared/token"
)

func TestListPaginatesAcrossTheSubtree(t *testing.T) {
	e := newEnv(t)
	dist, _, _, _ := e.tree()
	for _, c := range []string{"acme", "acme-sub", "beta"} {
		in := std(c)
		in.Count = 3
		e.create(dist, in)
	}
	want := 3*4 + 1 // three standard and a trial for each of acme, acme-sub and beta, plus dist's trial
	var all []string
	seen := map[string]bool{}
	cursor := ""
	for page := 0; ; page++ {
		ls, next, err := e.lg.ListLicenses(ctx, dist, LicenseFilter{Cursor: cursor, Limit: 5})
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range ls {
			if seen[l.ID] {
				t.Fatalf("license %s listed twice", l.ID)
			}
			seen[l.ID] = true
			all = append(all, l.ID)
		}
		if next == "" {
			break
		}
		if len(ls) != 5 || page > 10 {
			t.Fatalf("page %d has %d licenses and a next cursor", page, len(ls))
		}
		cursor = next
	}
	if len(all) != want {
		t.Fatalf("listed %d licenses, want %d", len(all), want)
	}
}

func TestListFiltersByStatusTypeAndExpiry(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, _ := e.tree()
	e.device(acme, "acme", "dev-1", "sensor-a")
	ending := std("acme")
	ending.Months, ending.Renew = 1, new(bool) // ends 2026-05-01 without renewal
	short := e.create(dist, ending)
	renewing := e.create(dist, std("acme"))
	few := e.create(dist, days("acme", 5))
	e.bind(acme, renewing.ID, "dev-1")
	tests := []struct {
		name string
		f    LicenseFilter
		want []string
	}{
		{"status-active", LicenseFilter{CustomerID: "acme", Status: StatusActive}, []string{renewing.ID}},
		{"type-trial", LicenseFilter{CustomerID: "acme", Type: token.TypeTrial}, []string{e.trial("acme").ID}},
		{"billing-days", LicenseFilter{CustomerID: "acme", Billing: token.BillingDays}, []string{few.ID}},
		{"device", LicenseFilter{DeviceID: "dev-1"}, []string{renewing.ID}},
		{"expiring-within-60d", LicenseFilter{CustomerID: "acme", Type: token.TypeStandard, ExpiringWithin: 60 * Day}, []string{short.ID, few.ID}},
		{"expiring-within-1d", LicenseFilter{CustomerID: "acme", ExpiringWithin: Day}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ls, _, err := e.lg.ListLicenses(ctx, acme, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]bool{}
			for _, l := range ls {
				got[l.ID] = true
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d licenses, want %v", len(got), tc.want)
			}
			for _, id := range tc.want {
				if !got[id] {
					t.Fatalf("missing %s", id)
				}
			}
		})
	}
}

func TestSchedulerResignsRevocationListBeforeItGoesStale(t *testing.T) {
	e := newEnv(t)
	first := e.revocationList()
	e.clk.Advance(6 * time.Hour)
	if _, _, err := e.lg.ApplyDue(ctx); err != nil {
		t.Fatal(err)
	}
	if got := e.revocationList(); got.Seq != first.Seq {
		t.Fatalf("re-signed after 6 h (seq %d → %d)", first.Seq, got.Seq)
	}
	e.clk.Advance(7 * time.Hour) // past half of the 24 h lifetime
	e.lg.ApplyDue(ctx)
	got := e.revocationList()
	if got.Seq != first.Seq+1 || got.NextUpdate != e.clk.Now().Add(24*time.Hour).Unix() {
		t.Fatalf("after 13 h: seq %d next_update %d", got.Seq, got.NextUpdate)
	}
}

func TestGatewayMustBelongToSameCustomer(t *testing.T) {
	e := newEnv(t)
	_, acme, _, beta := e.tree()
	e.device(acme, "acme", "gw-1", "gateway-x")
	e.device(beta, "beta", "gw-b", "gateway-x")
	tests := []struct {
		name    string
		gateway string
		want    error
	}{
		{"ok", "gw-1", nil},
		{"error/other-customer", "gw-b", ErrNotFound},
		{"error/missing", "gw-404", ErrNotFound},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pub, _, _ := ed25519.GenerateKey(rand.Reader)
			_, err := e.lg.CreateDevice(ctx, acme, DeviceInput{ID: fmt.Sprintf("child-%d", i), CustomerID: "acme",
				Model: "m", GatewayID: tc.gateway, PublicKey: token.EncodePublicKey(pub)})
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantErr(t, err, tc.want)
		})
	}
	d := e.device(acme, "acme", "dup-src", "m")
	_, err := e.lg.CreateDevice(ctx, acme, DeviceInput{ID: "dup", CustomerID: "acme", Model: "m", PublicKey: d.PublicKey})
	wantErr(t, err, ErrExists) // one key, one device
}

func TestDeviceListPaginatesAcrossCustomers(t *testing.T) {
	e := newEnv(t)
	dist, acme, sub, _ := e.tree()
	// "acme-sub" sorts before "acme" as a key prefix ('-' < '/'): the
	// cursor must follow key order, not id order.
	for i := range 3 {
		e.device(acme, "acme", fmt.Sprintf("a-%d", i), "m")
		e.device(sub, "acme-sub", fmt.Sprintf("s-%d", i), "m")
	}
	seen := map[string]bool{}
	cursor := ""
	for range 20 {
		ds, next, err := e.lg.ListDevices(ctx, dist, "", cursor, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			if seen[d.ID] {
				t.Fatalf("device %s listed twice", d.ID)
			}
			seen[d.ID] = true
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if len(seen) != 6 {
		t.Fatalf("listed %d devices, want 6: %v", len(seen), seen)
	}
}
