package store_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/server/internal/store/storetest"
)

// twoReplicas opens two stores (two connection pools, as two servers
// have) over one new PostgreSQL ledger, and returns its URL too.
func twoReplicas(t *testing.T) (*store.DB, *store.DB, string) {
	u := storetest.PostgresURL(t)
	var dbs [2]*store.DB
	for i := range dbs {
		db, err := store.OpenPostgres(context.Background(), u, store.Options{Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		dbs[i] = db
	}
	return dbs[0], dbs[1], u
}

// increment adds one to the counter "hits" in x.
func increment(x *store.Txn) error {
	v, err := x.Get(store.CounterKey("hits"))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	n, _ := strconv.ParseInt(string(v), 10, 64)
	return x.Put(store.CounterKey("hits"), []byte(strconv.FormatInt(n+1, 10)))
}

// TestPostgresWriteLockSparesRetries: while server A's write transaction
// runs, server B's write of the same counter waits for A's commit before
// it reads anything (PostgreSQL shows B's request for the write lock
// waiting), so B reads A's increment and commits at its first attempt —
// without the lock B would read the counter beside A, collide with A's
// commit and run again.
func TestPostgresWriteLockSparesRetries(t *testing.T) {
	a, b, u := twoReplicas(t)
	watch, err := pgx.Connect(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close(context.Background())
	bRead := make(chan struct{}, 1)
	bDone := make(chan error, 1)
	aDone := make(chan struct{})
	started := false
	err = a.Update(func(x *store.Txn) error {
		if err := increment(x); err != nil {
			return err
		}
		if started {
			return errors.New("A's transaction was run again: nothing should have collided with it")
		}
		started = true
		go func() {
			bDone <- b.Update(func(x *store.Txn) error {
				err := increment(x)
				select {
				case bRead <- struct{}{}:
				default:
				}
				<-aDone // B commits after A
				return err
			})
		}()
		for { // until B has read the counter, or waits for the lock
			select {
			case <-bRead:
				return nil
			default:
			}
			var waiting int
			if err := watch.QueryRow(context.Background(),
				"SELECT count(*) FROM pg_locks WHERE relation = 'write_lock'::regclass AND NOT granted").Scan(&waiting); err != nil {
				return err
			}
			if waiting > 0 {
				return nil
			}
		}
	})
	close(aDone)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-bDone; err != nil {
		t.Fatal(err)
	}
	if n := hits(t, a); n != 2 {
		t.Fatalf("counter = %d after 2 increments (lost update)", n)
	}
	if r := b.Retries(); r != 0 {
		t.Fatalf("B ran its write %d more times: it read beside A instead of waiting for A's write lock", r)
	}
}

// hits reads the counter increment adds to.
func hits(t *testing.T, db *store.DB) int64 {
	var n int64
	if err := db.View(func(x *store.Txn) error {
		v, err := x.Get(store.CounterKey("hits"))
		n, _ = strconv.ParseInt(string(v), 10, 64)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPostgresWriteLockNeverDeadlocks: a write transaction that waits for
// another server's write (which needs the lock it holds) does not hang:
// the other goes ahead without the lock once its wait runs out, and
// SERIALIZABLE keeps the result right.
func TestPostgresWriteLockNeverDeadlocks(t *testing.T) {
	a, b, _ := twoReplicas(t)
	err := a.Update(func(x *store.Txn) error {
		if _, err := x.Get([]byte("m/outer")); !errors.Is(err, store.ErrNotFound) { // the first read takes the lock
			return fmt.Errorf("m/outer: %v", err)
		}
		if err := x.Put([]byte("m/outer"), []byte("1")); err != nil {
			return err
		}
		return b.Update(increment) // a holds the lock b wants
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range [][]byte{[]byte("m/outer"), store.CounterKey("hits")} {
		if err := b.View(func(x *store.Txn) error { _, err := x.Get(k); return err }); err != nil {
			t.Fatalf("%s: %v", k, err)
		}
	}
}

// TestPostgresBeginWaitsForTheWriteLock: Begin returns only once the
// transaction holds the write lock — after another server's writer has
// committed — so what a group commit settles after Begin (the reports
// that arrived while it waited) is settled after the wait; and its first
// read sees that writer's commit.
func TestPostgresBeginWaitsForTheWriteLock(t *testing.T) {
	a, b, _ := twoReplicas(t)
	begun := make(chan struct{})
	bDone := make(chan error, 1)
	var seen int64
	err := a.Update(func(x *store.Txn) error {
		if err := x.Begin(); err != nil { // A holds the lock from here
			return err
		}
		if err := increment(x); err != nil {
			return err
		}
		go func() {
			bDone <- b.Update(func(x *store.Txn) error {
				if err := x.Begin(); err != nil {
					return err
				}
				close(begun)
				v, err := x.Get(store.CounterKey("hits"))
				seen, _ = strconv.ParseInt(string(v), 10, 64)
				return err
			})
		}()
		select {
		case <-begun:
			return errors.New("B's Begin returned while A held the write lock")
		case <-time.After(100 * time.Millisecond): // well under the lock's 250 ms wait
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-bDone; err != nil {
		t.Fatal(err)
	}
	if seen != 1 {
		t.Fatalf("B read hits = %d after its Begin, want A's 1", seen)
	}
	if r := b.Retries(); r != 0 {
		t.Fatalf("B ran %d more times: its Begin did not wait for A", r)
	}
}
