package ledger

import (
	"io"
	"log/slog"
	"testing"

	"github.com/tollgate-iot/tollgate/server/internal/keys"
	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/clock"
)

// TestStateSurvivesRestart closes the store and opens it again: licenses,
// bindings, tokens and every sequence (audit, sales, revocation list)
// continue where they were.
func TestStateSurvivesRestart(t *testing.T) {
	dir, keyDir := t.TempDir(), t.TempDir()
	clk := clock.NewFake(epoch)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ks, _ := keys.Open(keyDir, clk)
	ks.Rotate()
	open := func() (*Ledger, *store.DB) {
		db, err := store.Open(store.Options{Dir: dir, Profile: store.ProfileSmall, Clock: clk, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		lg, err := New(Options{DB: db, Clock: clk, Keys: ks, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		return lg, db
	}
	lg, db := open()
	if _, _, _, err := lg.Bootstrap(ctx, "Vendor", "ops@vendor.test"); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, lg: lg, clk: clk, ks: ks, root: admin("root")}
	dist, acme, _, _ := e.tree()
	e.device(acme, "acme", "dev-1", "sensor-a")
	l := e.create(dist, std("acme"))
	tok := e.bind(acme, l.ID, "dev-1").Token
	e.lg.Revoke(ctx, e.root, e.trial("beta").ID)
	audit, _, _ := lg.ListAudit(ctx, SystemActor(), "", 1)
	rl := e.revocationList()
	db.Close()

	lg, db = open()
	defer db.Close()
	e.lg = lg
	if lg.RootID() != "root" {
		t.Fatalf("root after restart: %q", lg.RootID())
	}
	if got, err := lg.LicenseToken(ctx, acme, l.ID); err != nil || got.Token != tok.Token {
		t.Fatalf("token after restart: %v", err)
	}
	if st := e.status(l.ID); st != StatusActive {
		t.Fatalf("status after restart: %s", st)
	}
	if _, _, _, err := lg.Bootstrap(ctx, "again", ""); err == nil {
		t.Fatal("a second bootstrap after restart succeeded")
	}
	e.lg.Unbind(ctx, acme, l.ID)
	next, _, _ := lg.ListAudit(ctx, SystemActor(), "", 1)
	if next[0].Seq != audit[0].Seq+1 {
		t.Fatalf("audit seq after restart %d, before %d", next[0].Seq, audit[0].Seq)
	}
	e.lg.SetBlacklist(ctx, acme, "dev-1", true, "test")
	// Two signings since the restart: the unbind (superseding dev-1's token)
	// and the blacklisting.
	if got := e.revocationList(); got.Seq != rl.Seq+2 || !got.DeviceBlacklisted("dev-1") || got.MinVersion(l.ID) <= tok.Version ||
		len(got.RevokedLicenses) != len(rl.RevokedLicenses) {
		t.Fatalf("revocation list after restart: seq %d (was %d)", got.Seq, rl.Seq)
	}
}
