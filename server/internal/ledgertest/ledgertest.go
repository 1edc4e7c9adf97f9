// Package ledgertest opens a real ledger for tests of the layers above it
// (API, tollgatectl): badger in a temp dir with the small profile (or a
// throwaway PostgreSQL database, see storetest), a key store with one key,
// a fake clock, and the root customer bootstrapped.
package ledgertest

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/keys"
	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/server/internal/store/storetest"
	"github.com/tollgate-iot/tollgate/shared/clock"
)

// Start is when every ledgertest clock begins.
var Start = time.Date(2026, 3, 14, 10, 0, 0, 0, time.UTC)

// Env is an open ledger and what it was built from.
type Env struct {
	Ledger  *ledger.Ledger
	Keys    *keys.Store
	Clock   *clock.Fake
	Logger  *slog.Logger // discards
	RootKey string       // the root admin's API key
}

// Open returns a bootstrapped ledger that closes with the test.
func Open(t testing.TB) *Env {
	t.Helper()
	e := &Env{Clock: clock.NewFake(Start), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	// TOLLGATE_TEST_STORE=postgres runs the ledger on PostgreSQL.
	db := storetest.Open(t, store.Options{Profile: store.ProfileSmall, Clock: e.Clock, Logger: e.Logger})
	var err error
	if e.Keys, err = keys.Open(t.TempDir(), e.Clock); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Keys.Rotate(); err != nil {
		t.Fatal(err)
	}
	if e.Ledger, err = ledger.New(ledger.Options{DB: db, Clock: e.Clock, Keys: e.Keys, Logger: e.Logger}); err != nil {
		t.Fatal(err)
	}
	if _, _, e.RootKey, err = e.Ledger.Bootstrap(context.Background(), "Vendor", "ops@vendor.test"); err != nil {
		t.Fatal(err)
	}
	return e
}
