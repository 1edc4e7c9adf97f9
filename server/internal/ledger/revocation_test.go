package ledger

import (
	"fmt"
	"slices"
	"testing"

	"github.com/tollgate-iot/tollgate/shared/syncproto"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// TestScopedListStillRevokes: a device's list is signed for it alone, yet
// every entry that concerns it reaches it by sync, push and air-gap: its
// revoked and suspended licenses, the superseded version of a license
// taken away from it (it still holds the old token), its own blacklisting
// and, for a gateway, its child's revoked license and blacklisting. The
// entries of another device of the same customer, and of another
// customer, do not.
func TestScopedListStillRevokes(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, beta := e.tree()
	e.device(acme, "acme", "dev-1", "sensor-a")
	e.device(acme, "acme", "dev-2", "sensor-a")
	e.device(acme, "acme", "gw-1", "sensor-gw")
	e.mustChild(acme, "acme", "c-1", "gw-1")
	e.device(beta, "beta", "b-1", "sensor-a")
	bound := func(a Actor, customer, dev string) *LicenseView {
		l := e.create(dist, std(customer))
		e.bind(a, l.ID, dev)
		return l
	}
	revoked, suspended := bound(acme, "acme", "dev-1"), bound(acme, "acme", "dev-1")
	taken := bound(acme, "acme", "dev-1")
	oldVersion := e.get(taken.ID).Version
	childLic, otherLic, betaLic := bound(acme, "acme", "c-1"), bound(acme, "acme", "dev-2"), bound(beta, "beta", "b-1")
	for _, id := range []string{revoked.ID, childLic.ID, otherLic.ID, betaLic.ID} {
		if _, err := e.lg.Revoke(ctx, e.root, id); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.lg.Suspend(ctx, dist, suspended.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.lg.Unbind(ctx, acme, taken.ID); err != nil {
		t.Fatal(err)
	}
	e.bind(acme, taken.ID, "dev-2") // taken away for good: dev-2 holds it now
	for _, dev := range []string{"c-1", "dev-2", "b-1"} {
		if _, err := e.lg.SetBlacklist(ctx, SystemActor(), dev, true, "test"); err != nil {
			t.Fatal(err)
		}
	}
	trust, err := e.ks.Trust()
	if err != nil {
		t.Fatal(err)
	}
	seq := e.revocationList().Seq
	paths := []struct {
		name string
		list func(dev string) (string, error)
	}{
		{"sync", func(dev string) (string, error) {
			r := &syncproto.Report{DeviceID: dev, Nonce: fmt.Sprintf("%022d", e.clk.Now().UnixNano()%1e15), SentAt: e.clk.Now().Unix(),
				Tokens: []syncproto.TokenVersion{}, Deductions: []syncproto.Deduction{}, Counts: []syncproto.HourlyCount{}}
			resp, err := e.lg.Reconcile(ctx, dev, r)
			if err != nil {
				return "", err
			}
			return resp.RevocationList, nil
		}},
		{"push", func(dev string) (string, error) {
			doc, err := e.lg.PushDocument(ctx, dev)
			if err != nil {
				return "", err
			}
			r, err := syncproto.OpenResponse(trust, dev, "", doc.Text)
			if err != nil {
				return "", err
			}
			return r.RevocationList, nil
		}},
		{"airgap", func(dev string) (string, error) {
			k, err := e.lg.NewActivationKey(ctx, acme, dev)
			if err != nil {
				return "", err
			}
			return k.Key.RevocationList, nil
		}},
	}
	type want struct {
		revoked, suspended, blacklisted []string
		superseded                      map[string]int64 // license → lowest valid version above
	}
	devices := []struct {
		dev  string
		want want
	}{
		{"dev-1", want{revoked: []string{revoked.ID}, suspended: []string{suspended.ID}, blacklisted: []string{},
			superseded: map[string]int64{taken.ID: oldVersion}}},
		{"gw-1", want{revoked: []string{childLic.ID}, suspended: []string{}, blacklisted: []string{"c-1"}}},
	}
	for _, p := range paths {
		for _, d := range devices {
			t.Run(p.name+"/"+d.dev, func(t *testing.T) {
				text, err := p.list(d.dev)
				if err != nil {
					t.Fatal(err)
				}
				rl, err := token.ParseRevocationList(trust, text)
				if err != nil {
					t.Fatal(err)
				}
				if err := rl.CheckScope(d.dev); err != nil || rl.Seq != seq {
					t.Fatalf("list scope %s seq %d (%v), want %s at %d", rl.DeviceID, rl.Seq, err, d.dev, seq)
				}
				if !slices.Equal(rl.RevokedLicenses, d.want.revoked) || !slices.Equal(rl.SuspendedLicenses, d.want.suspended) ||
					!slices.Equal(rl.BlacklistedDevices, d.want.blacklisted) {
					t.Fatalf("list %+v; want %+v", rl, d.want)
				}
				for _, other := range []string{otherLic.ID, betaLic.ID} {
					if rl.MinVersion(other) != 0 {
						t.Fatalf("list of %s supersedes %s, a license it never held: %v", d.dev, other, rl.SupersededLicenses)
					}
				}
				for id, old := range d.want.superseded {
					if rl.MinVersion(id) <= old {
						t.Fatalf("license taken away: min version %d does not void the held version %d", rl.MinVersion(id), old)
					}
				}
			})
		}
	}

	// Its own blacklisting reaches the device too.
	if _, err := e.lg.SetBlacklist(ctx, acme, "dev-1", true, "stolen"); err != nil {
		t.Fatal(err)
	}
	for _, p := range paths[1:] {
		text, err := p.list("dev-1")
		if err != nil {
			t.Fatalf("%s: %v", p.name, err)
		}
		if rl, err := token.ParseRevocationList(trust, text); err != nil || !slices.Equal(rl.BlacklistedDevices, []string{"dev-1"}) {
			t.Fatalf("%s after blacklisting dev-1: %+v, %v", p.name, rl, err)
		}
	}
}

// TestScopedListIsStableWithinASeq: two lists for one device at one seq
// are the same document even when time passed between them (an entry
// whose tokens ended meanwhile stays until the head moves), so an agent
// holding one never sees the other as a rollback.
func TestScopedListIsStableWithinASeq(t *testing.T) {
	e := newEnv(t)
	_, acme, _, _ := e.tree()
	e.device(acme, "acme", "dev-1", "sensor-a")
	tr := e.trial("acme")
	e.bind(acme, tr.ID, "dev-1")
	if _, err := e.lg.Unbind(ctx, acme, tr.ID); err != nil { // superseded until the trial's token ends
		t.Fatal(err)
	}
	first, err := e.lg.PushRevocationList(ctx, "dev-1")
	if err != nil {
		t.Fatal(err)
	}
	e.clk.Advance((TrialDays + 1) * Day)
	e.lg.rlCache.clear() // built anew, not reused
	second, err := e.lg.PushRevocationList(ctx, "dev-1")
	if err != nil || second != first {
		t.Fatalf("same seq, another list: %v\n%s\n%s", err, first, second)
	}
	trust, _ := e.ks.Trust()
	a, _ := token.ParseRevocationList(trust, first)
	if err := token.CheckNewer(a, e.listOf("dev-1")); err != nil {
		t.Fatal(err)
	}
}

// clear drops every kept list.
func (c *revocationCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lists, c.bytes = nil, 0
}

// TestRevocationCacheReusesOnlyItsSeqAndKey: a kept list is handed out
// again only at the seq and key it was signed at; the cache stays under
// its byte budget and never keeps an oversized list.
func TestRevocationCacheReusesOnlyItsSeqAndKey(t *testing.T) {
	var c revocationCache
	list := func(dev string, seq int64, size int) *SignedRevocationList {
		return &SignedRevocationList{DeviceID: dev, Seq: seq, Token: string(make([]byte, size))}
	}
	c.put(list("dev-1", 4, 100), "k1")
	tests := []struct {
		name string
		dev  string
		seq  int64
		key  string
		hit  bool
	}{
		{"ok", "dev-1", 4, "k1", true},
		{"miss/newer-seq", "dev-1", 5, "k1", false},
		{"miss/rotated-key", "dev-1", 4, "k2", false},
		{"miss/other-device", "dev-2", 4, "k1", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := c.get(tc.dev, tc.seq, tc.key) != nil; got != tc.hit {
				t.Fatalf("hit %v, want %v", got, tc.hit)
			}
		})
	}
	c.put(list("big", 4, MaxCachedRevocationBytes+1), "k1")
	if c.get("big", 4, "k1") != nil {
		t.Fatal("an oversized list was kept")
	}
	n := MaxRevocationCacheBytes/MaxCachedRevocationBytes + 8
	for i := range n {
		c.put(list(fmt.Sprint("d-", i), 4, MaxCachedRevocationBytes), "k1")
	}
	if c.bytes > MaxRevocationCacheBytes || c.get(fmt.Sprint("d-", n-1), 4, "k1") == nil {
		t.Fatalf("cache holds %d bytes (budget %d), or dropped the newest list", c.bytes, MaxRevocationCacheBytes)
	}
}
