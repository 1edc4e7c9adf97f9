// Package storetest opens stores for tests on either engine: badger in a
// temporary directory, or a throwaway PostgreSQL database created on the
// local server for the test and dropped after it (a schema of its own in
// one shared test database).
//
// TOLLGATE_TEST_STORE=postgres makes Open use PostgreSQL;
// TOLLGATE_TEST_POSTGRES overrides the server's admin URL
// (pgtest.DefaultPostgresURL). Without a reachable server a PostgreSQL test is
// skipped with a message, unless CI=true, where it fails.
package storetest

import (
	"context"
	"os"
	"testing"

	"github.com/tollgate-iot/tollgate/internal/testkit/pgtest"
	"github.com/tollgate-iot/tollgate/server/internal/store"
)

// Environment variables read by the helpers.
const (
	EnvStore    = "TOLLGATE_TEST_STORE"
	EnvPostgres = pgtest.EnvPostgres
)

// Engine returns the engine tests use: "postgres" or "badger".
func Engine() string {
	if os.Getenv(EnvStore) == "postgres" {
		return "postgres"
	}
	return "badger"
}

// Open opens a store on Engine() for t, closed when t ends. Badger lives in
// o.Dir (t.TempDir() if empty); PostgreSQL in a new database.
func Open(t testing.TB, o store.Options) *store.DB {
	t.Helper()
	if Engine() == "postgres" {
		return OpenPostgres(t, o)
	}
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	db, err := store.Open(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// OpenPostgres opens a store in a new PostgreSQL database for t.
func OpenPostgres(t testing.TB, o store.Options) *store.DB {
	t.Helper()
	db, err := store.OpenPostgres(context.Background(), PostgresURL(t), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// PostgresURL gives t a throwaway PostgreSQL schema and returns its URL
// (pgtest.URL).
func PostgresURL(t testing.TB) string {
	t.Helper()
	return pgtest.URL(t)
}
