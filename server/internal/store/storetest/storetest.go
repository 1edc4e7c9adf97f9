// Package storetest opens stores for tests on either engine: badger in a
// temporary directory, or a throwaway PostgreSQL database created on the
// local server for the test and dropped after it.
//
// TOLLGATE_TEST_STORE=postgres makes Open use PostgreSQL;
// TOLLGATE_TEST_POSTGRES overrides the server's admin URL
// (DefaultPostgresURL). Without a reachable server a PostgreSQL test is
// skipped with a message, unless CI=true, where it fails.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tollgate-iot/tollgate/server/internal/store"
)

// DefaultPostgresURL is the local test server (trust authentication).
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// Environment variables read by the helpers.
const (
	EnvStore    = "TOLLGATE_TEST_STORE"
	EnvPostgres = "TOLLGATE_TEST_POSTGRES"
)

// connectTimeout bounds the wait for an unreachable server.
const connectTimeout = 3 * time.Second

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

var reach struct {
	once sync.Once
	err  error
}

func adminURL() string {
	if u := os.Getenv(EnvPostgres); u != "" {
		return u
	}
	return DefaultPostgresURL
}

func connect(ctx context.Context) (*pgx.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	return pgx.Connect(ctx, adminURL())
}

// PostgresURL creates a database tg_<random> on the test server, drops it
// when t ends, and returns its URL. The store opened on it must be closed
// first (cleanups run last-registered first, so open it after this call).
func PostgresURL(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	reach.once.Do(func() {
		c, err := connect(ctx)
		if err == nil {
			c.Close(ctx)
		}
		reach.err = err
	})
	if reach.err != nil {
		msg := fmt.Sprintf("%s: PostgreSQL at %s is unreachable (%v): its PostgreSQL tests cannot run",
			callerPackage(), store.RedactURL(adminURL()), reach.err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg + "; skipped (set " + EnvPostgres + " to a reachable server; on CI this fails)")
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	name := "tg_" + hex.EncodeToString(b[:])
	c, err := connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		c, err := connect(ctx)
		if err != nil {
			t.Errorf("drop test database %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	u, err := url.Parse(adminURL())
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// callerPackage names the package of the test that asked for PostgreSQL.
func callerPackage() string {
	for skip := 2; skip < 8; skip++ {
		pc, _, _, ok := runtime.Caller(skip)
		if !ok {
			break
		}
		fn := runtime.FuncForPC(pc).Name()
		if strings.Contains(fn, "/storetest.") {
			continue
		}
		slash := strings.LastIndex(fn, "/")
		if dot := strings.Index(fn[slash+1:], "."); dot >= 0 {
			return fn[:slash+1+dot]
		}
		return fn
	}
	return "storetest"
}
