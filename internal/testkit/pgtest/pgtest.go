// Package pgtest gives a test a throwaway PostgreSQL schema of its own on
// the local test server (docs/deploy.md "Tests on either engine"): for the
// ledger's tests through storetest, and for end-to-end tests that start
// servers on PostgreSQL.
//
// TOLLGATE_TEST_POSTGRES overrides the server's admin URL
// (DefaultPostgresURL). Without a reachable server the test is skipped
// with a message, unless CI=true, where it fails.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// EnvPostgres overrides the test server's admin URL.
const EnvPostgres = "TOLLGATE_TEST_POSTGRES"

// redact hides a URL's password.
func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparsable URL)"
	}
	return p.Redacted()
}

// DefaultPostgresURL is the local test server (trust authentication).
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// connectTimeout bounds the wait for an unreachable server.
const connectTimeout = 3 * time.Second

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

func connect(ctx context.Context, u string) (*pgx.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	return pgx.Connect(ctx, u)
}

// TestDatabase is the database the tests' schemas live in, made on the
// test server the first time a test asks for PostgreSQL.
const TestDatabase = "tollgate_test"

var testDB struct {
	once sync.Once
	err  error
}

// PostgresURL creates a schema tg_<random> in TestDatabase on the test
// server, drops it when t ends, and returns a URL whose search_path is that
// schema: a store opened on it sees an empty database of its own. A schema
// is made and dropped in milliseconds where a database takes a quarter of
// a second, which is most of a ledger test's time. The store opened on it
// must be closed first (cleanups run last-registered first, so open it
// after this call).
func URL(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	reach.once.Do(func() {
		c, err := connect(ctx, adminURL())
		if err == nil {
			c.Close(ctx)
		}
		reach.err = err
	})
	if reach.err != nil {
		msg := fmt.Sprintf("%s: PostgreSQL at %s is unreachable (%v): its PostgreSQL tests cannot run",
			callerPackage(), redact(adminURL()), reach.err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg + "; skipped (set " + EnvPostgres + " to a reachable server; on CI this fails)")
	}
	testDB.once.Do(func() { testDB.err = createTestDatabase(ctx) })
	if testDB.err != nil {
		t.Fatalf("create database %s: %v", TestDatabase, testDB.err)
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	name := "tg_" + hex.EncodeToString(b[:])
	u, err := url.Parse(adminURL())
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + TestDatabase
	c, err := connect(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		t.Fatalf("create test schema: %v", err)
	}
	dbURL := u.String()
	t.Cleanup(func() {
		c, err := connect(ctx, dbURL)
		if err != nil {
			t.Errorf("drop test schema %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP SCHEMA IF EXISTS "+name+" CASCADE"); err != nil {
			t.Errorf("drop test schema %s: %v", name, err)
		}
	})
	q := u.Query()
	q.Set("search_path", name)
	// A test's commits need not wait for the disk: the tests kill
	// tollgate-server, never PostgreSQL, and a commit PostgreSQL has
	// answered is in its memory either way. Waiting for each flush is most
	// of a ledger test's time on a small machine.
	q.Set("synchronous_commit", "off")
	u.RawQuery = q.Encode()
	return u.String()
}

// createTestDatabase makes TestDatabase unless it exists; test processes
// of several packages may race to make it.
func createTestDatabase(ctx context.Context) error {
	c, err := connect(ctx, adminURL())
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	_, err = c.Exec(ctx, "CREATE DATABASE "+TestDatabase)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (pe.Code == "42P04" || pe.Code == "23505") { // duplicate_database, or lost the race
		return nil
	}
	return err
}

// callerPackage names the package of the test that asked for PostgreSQL.
func callerPackage() string {
	for skip := 2; skip < 8; skip++ {
		pc, _, _, ok := runtime.Caller(skip)
		if !ok {
			break
		}
		fn := runtime.FuncForPC(pc).Name()
		if strings.Contains(fn, "/storetest.") || strings.Contains(fn, "/pgtest.") {
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
