package ledger

import (
	"testing"

	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// TestDeviceLosingALicenseSupersedesItsToken: whenever a device loses a
// license, the next revocation list voids the token it holds (its version
// is below the list's minimum for that license), with a higher seq, while
// the token of the license's new holder stays valid.
func TestDeviceLosingALicenseSupersedesItsToken(t *testing.T) {
	tests := []struct {
		name string
		// lose takes l away from dev-1 and returns the token of its new
		// holder, if any.
		lose func(e *env, acme Actor, l *LicenseView) *LicenseToken
	}{
		{"unbind", func(e *env, acme Actor, l *LicenseView) *LicenseToken {
			if _, err := e.lg.Unbind(ctx, acme, l.ID); err != nil {
				e.t.Fatal(err)
			}
			return nil
		}},
		{"rebind-to-another-device", func(e *env, acme Actor, l *LicenseView) *LicenseToken {
			e.lg.Unbind(ctx, acme, l.ID)
			return e.bind(acme, l.ID, "dev-2").Token
		}},
		{"replacement", func(e *env, acme Actor, l *LicenseView) *LicenseToken {
			other := e.create(admin("dist"), std("acme"))
			r := e.bind(acme, other.ID, "dev-1")
			if len(r.Replaced) != 1 || r.Replaced[0].ID != l.ID {
				e.t.Fatalf("replaced %+v", r.Replaced)
			}
			return nil
		}},
		{"transfer", func(e *env, acme Actor, l *LicenseView) *LicenseToken {
			if _, _, err := e.lg.Transfer(ctx, acme, l.ID, "acme-sub"); err != nil {
				e.t.Fatal(err)
			}
			return nil
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			dist, acme, _, _ := e.tree()
			e.device(acme, "acme", "dev-1", "sensor-a")
			e.device(acme, "acme", "dev-2", "sensor-a")
			l := e.create(dist, std("acme"))
			old := e.bind(acme, l.ID, "dev-1").Token
			before := e.revocationList()
			if before.MinVersion(l.ID) != 0 {
				t.Fatalf("a bind alone superseded version %d", before.MinVersion(l.ID))
			}
			held := tc.lose(e, acme, l)
			rl := e.revocationList()
			if rl.Seq <= before.Seq {
				t.Fatalf("seq %d → %d", before.Seq, rl.Seq)
			}
			minV := rl.MinVersion(l.ID)
			if minV <= old.Version {
				t.Fatalf("min version %d does not void dev-1's token version %d; list %v", minV, old.Version, rl.SupersededLicenses)
			}
			if minV > e.get(l.ID).Version {
				t.Fatalf("min version %d above the license's version %d", minV, e.get(l.ID).Version)
			}
			if held != nil && held.Version < minV {
				t.Fatalf("the new holder's token version %d is void (min %d)", held.Version, minV)
			}
		})
	}
}

// TestSupersededEntriesArePrunedOnceTheirTokensExpire: an entry leaves the
// list (and the store) when every token it voids is past its end, as
// revoked ids do.
func TestSupersededEntriesArePrunedOnceTheirTokensExpire(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, _ := e.tree()
	e.device(acme, "acme", "dev-1", "sensor-a")
	tr := e.trial("acme")
	e.bind(acme, tr.ID, "dev-1")
	std := e.create(dist, std("acme"))
	e.lg.Unbind(ctx, acme, tr.ID) // its token ends with the trial, in 30 days
	e.bind(acme, std.ID, "dev-1")
	e.lg.Unbind(ctx, acme, std.ID) // its token ends with the term, next year
	rl := e.revocationList()
	if rl.MinVersion(tr.ID) == 0 || rl.MinVersion(std.ID) == 0 || len(rl.SupersededLicenses) != 2 {
		t.Fatalf("superseded before expiry: %v", rl.SupersededLicenses)
	}
	e.clk.Advance((TrialDays + 1) * Day)
	if _, _, err := e.lg.ApplyDue(ctx); err != nil { // re-signs the stale list
		t.Fatal(err)
	}
	rl = e.revocationList()
	if rl.MinVersion(tr.ID) != 0 || rl.MinVersion(std.ID) == 0 || len(rl.SupersededLicenses) != 1 {
		t.Fatalf("after the trial's token ended: %v", rl.SupersededLicenses)
	}
	if _, err := e.lg.SetBlacklist(ctx, acme, "dev-1", true, "x"); err != nil { // another signing
		t.Fatal(err)
	}
	if rl = e.revocationList(); rl.MinVersion(tr.ID) != 0 {
		t.Fatalf("pruned entry came back: %v", rl.SupersededLicenses)
	}
	e.lg.db.View(func(x *store.Txn) error {
		if held, _ := x.Has(store.SupersededKey(tr.ID)); held {
			t.Fatal("the pruned entry is still stored")
		}
		return nil
	})
}

// TestMoveOfAFormerlyBoundLicenseKeepsItsEntry: a day license bound (it
// gets a token before its first deduction), unbound and moved to another
// customer stays superseded for its old device.
func TestMoveOfAFormerlyBoundLicenseKeepsItsEntry(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, _ := e.tree()
	e.device(acme, "acme", "dev-1", "sensor-a")
	l := e.create(dist, days("acme", 10))
	old := e.bind(acme, l.ID, "dev-1").Token
	e.lg.Unbind(ctx, acme, l.ID)
	if _, err := e.lg.MoveLicense(ctx, dist, l.ID, "beta"); err != nil {
		t.Fatal(err)
	}
	rl := e.listOf("dev-1")
	if rl.MinVersion(l.ID) <= old.Version {
		t.Fatalf("moved license: min version %d, old token %d", rl.MinVersion(l.ID), old.Version)
	}
	if err := rl.Validate(); err != nil {
		t.Fatal(err)
	}
	trust, _ := e.ks.Trust()
	if _, err := token.ParseRevocationList(trust, mustList(t, e, "dev-1").Token); err != nil {
		t.Fatal(err)
	}
}

func mustList(t *testing.T, e *env, dev string) *SignedRevocationList {
	t.Helper()
	s, err := e.lg.DeviceRevocationList(ctx, SystemActor(), dev)
	if err != nil {
		t.Fatal(err)
	}
	if s.Superseded != len(e.listOf(dev).SupersededLicenses) {
		t.Fatalf("superseded count %d disagrees with the list", s.Superseded)
	}
	return s
}

// TestStandingRefusesATokenFromBeforeTheDeviceLostTheLicense: a license
// unbound and bound to the same device again is in standing with the
// superseded minimum, so the broker refuses the token kept from before.
func TestStandingRefusesATokenFromBeforeTheDeviceLostTheLicense(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, _ := e.tree()
	e.device(acme, "acme", "dev-1", "sensor-a")
	l := e.create(dist, std("acme"))
	old := e.bind(acme, l.ID, "dev-1").Token
	if st, err := e.lg.DeviceStanding(ctx, "dev-1", l.ID); err != nil || st.MinVersion != 0 {
		t.Fatalf("standing before: %+v, %v", st, err)
	}
	e.lg.Unbind(ctx, acme, l.ID)
	cur := e.bind(acme, l.ID, "dev-1").Token
	st, err := e.lg.DeviceStanding(ctx, "dev-1", l.ID)
	if err != nil || st.MinVersion <= old.Version || st.MinVersion > cur.Version {
		t.Fatalf("standing %+v, %v; want %d < min ≤ %d", st, err, old.Version, cur.Version)
	}
}
