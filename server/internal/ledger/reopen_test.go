package ledger

import (
	"io"
	"log/slog"
	"testing"

	"github.com/tollgate-iot/tollgate/server/internal/keys"
	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/clock"
)

// reopenable is a bootstrapped ledger in a badger directory that a test
// closes and opens again (what a restart or an upgrade does): e is over
// the first open; reopen closes the store and opens a new ledger on it,
// which becomes e.lg.
type reopenable struct {
	e   *env
	db  *store.DB
	dir string
}

func newReopenable(t *testing.T) *reopenable {
	t.Helper()
	clk := clock.NewFake(epoch)
	ks, err := keys.Open(t.TempDir(), clk)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ks.Rotate(); err != nil {
		t.Fatal(err)
	}
	r := &reopenable{e: &env{t: t, clk: clk, ks: ks, root: admin("root")}, dir: t.TempDir()}
	r.open()
	if _, _, _, err := r.e.lg.Bootstrap(ctx, "Vendor", "ops@vendor.test"); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *reopenable) open() {
	t := r.e.t
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := store.Open(store.Options{Dir: r.dir, Profile: store.ProfileSmall, Clock: r.e.clk, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	lg, err := New(Options{DB: db, Clock: r.e.clk, Keys: r.e.ks, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	r.db, r.e.lg = db, lg
}

func (r *reopenable) reopen() {
	if err := r.db.Close(); err != nil {
		r.e.t.Fatal(err)
	}
	r.open()
}
