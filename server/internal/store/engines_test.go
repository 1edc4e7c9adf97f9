package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/server/internal/store/storetest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// engines are the storage engines every test in this file runs on.
var engines = []struct {
	name string
	open func(t testing.TB) *store.DB
}{
	{"badger", func(t testing.TB) *store.DB {
		db, err := store.Open(store.Options{Dir: t.TempDir(), Profile: store.ProfileSmall, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}},
	{"postgres", func(t testing.TB) *store.DB { return storetest.OpenPostgres(t, store.Options{Logger: quiet}) }},
}

func forEngines(t *testing.T, test func(t *testing.T, db *store.DB)) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) { test(t, e.open(t)) })
	}
}

func put(t *testing.T, db *store.DB, kv ...string) {
	t.Helper()
	if err := db.Update(func(x *store.Txn) error {
		for i := 0; i+1 < len(kv); i += 2 {
			if err := x.Put([]byte(kv[i]), []byte(kv[i+1])); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestEnginesGetPutDelete(t *testing.T) {
	forEngines(t, func(t *testing.T, db *store.DB) {
		put(t, db, "c/a", "1", "c/b", "", "c/c", "3")
		if err := db.Update(func(x *store.Txn) error {
			if err := x.Put([]byte("c/a"), []byte("one")); err != nil { // overwrite
				return err
			}
			return x.Delete([]byte("c/c"))
		}); err != nil {
			t.Fatal(err)
		}
		if err := db.Update(func(x *store.Txn) error { return x.Delete([]byte("c/missing")) }); err != nil {
			t.Fatalf("delete of a missing key: %v", err)
		}
		err := db.View(func(x *store.Txn) error {
			v, err := x.Get([]byte("c/a"))
			if err != nil || string(v) != "one" {
				t.Errorf("Get c/a = %q, %v", v, err)
			}
			v, err = x.Get([]byte("c/b"))
			if err != nil || v == nil || len(v) != 0 {
				t.Errorf("Get of an empty value = %q (nil %v), %v", v, v == nil, err)
			}
			if _, err := x.Get([]byte("c/c")); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("Get deleted = %v, want ErrNotFound", err)
			}
			for k, want := range map[string]bool{"c/a": true, "c/b": true, "c/c": false, "c/": false} {
				if got, err := x.Has([]byte(k)); err != nil || got != want {
					t.Errorf("Has %s = %v, %v", k, got, err)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

// TestEnginesScanOrderAndAfter: a scan returns exactly the prefix's keys in
// byte order (across PostgreSQL's pages), from after a key, keys only when
// asked, and stops when fn says so.
func TestEnginesScanOrderAndAfter(t *testing.T) {
	forEngines(t, func(t *testing.T, db *store.DB) {
		const n = 700 // more than two PostgreSQL pages
		if err := db.Update(func(x *store.Txn) error {
			for i := int64(n); i >= 1; i-- {
				if err := x.PutJSON(store.AuditKey(i), i); err != nil {
					return err
				}
			}
			// Neighbours the prefix must not reach.
			for _, k := range []string{"a", "a.", "a0", "ac/x", "b"} {
				if err := x.Put([]byte(k), []byte("x")); err != nil {
					return err
				}
			}
			return x.Put([]byte{'a', '/', 0xff, 0xff}, []byte("ff"))
		}); err != nil {
			t.Fatal(err)
		}
		var keys []string
		err := db.View(func(x *store.Txn) error {
			return x.Scan(store.AuditPrefix(), nil, false, func(k, v []byte) (bool, error) {
				if v != nil {
					t.Errorf("keys-only scan passed a value for %q", k)
				}
				keys = append(keys, string(k))
				return true, nil
			})
		})
		if err != nil || len(keys) != n+1 || keys[0] != string(store.AuditKey(1)) || keys[n-1] != string(store.AuditKey(n)) || keys[n] != "a/\xff\xff" {
			t.Fatalf("scan: %d keys, first %q, err %v", len(keys), keys[:1], err)
		}
		for i := 1; i < len(keys); i++ {
			if keys[i-1] >= keys[i] {
				t.Fatalf("keys out of order at %d: %q, %q", i, keys[i-1], keys[i])
			}
		}
		var vals []string
		err = db.View(func(x *store.Txn) error {
			return x.Scan(store.AuditPrefix(), store.AuditKey(n-3), true, func(k, v []byte) (bool, error) {
				vals = append(vals, string(v))
				return len(vals) < 2, nil
			})
		})
		if err != nil || fmt.Sprint(vals) != fmt.Sprintf("[%d %d]", n-2, n-1) {
			t.Fatalf("scan after %d, stop at 2: %v, %v", n-3, vals, err)
		}
		vals = nil
		err = db.View(func(x *store.Txn) error {
			return x.ScanInPlace(store.AuditPrefix(), store.AuditKey(250), func(k, v []byte) (bool, error) {
				vals = append(vals, string(v))
				return true, nil
			})
		})
		if err != nil || len(vals) != n-250+1 || vals[0] != "251" {
			t.Fatalf("scan in place after 250: %d values, %v", len(vals), err)
		}
		// An after key below the prefix starts at the prefix.
		var first string
		db.View(func(x *store.Txn) error {
			return x.Scan(store.AuditPrefix(), []byte("0"), false, func(k, _ []byte) (bool, error) {
				first = string(k)
				return false, nil
			})
		})
		if first != string(store.AuditKey(1)) {
			t.Fatalf("scan after a key below the prefix starts at %q", first)
		}
	})
}

// TestEnginesReverseBefore: Reverse walks the prefix from its end, or from
// below before, across pages, and never leaves the prefix.
func TestEnginesReverseBefore(t *testing.T) {
	forEngines(t, func(t *testing.T, db *store.DB) {
		const n = 600
		if err := db.Update(func(x *store.Txn) error {
			for i := int64(1); i <= n; i++ {
				if err := x.PutJSON(store.SaleKey(i), i); err != nil {
					return err
				}
			}
			if err := x.Put([]byte("r"), []byte("x")); err != nil {
				return err
			}
			return x.Put([]byte("sc/a/1"), []byte("x"))
		}); err != nil {
			t.Fatal(err)
		}
		var all []string
		err := db.View(func(x *store.Txn) error {
			return x.Reverse(store.SalePrefix(), nil, func(k, v []byte) (bool, error) {
				all = append(all, string(v))
				return true, nil
			})
		})
		if err != nil || len(all) != n || all[0] != fmt.Sprint(n) || all[n-1] != "1" {
			t.Fatalf("reverse: %d entries, first %v, %v", len(all), all[:1], err)
		}
		var got []string
		err = db.View(func(x *store.Txn) error {
			return x.Reverse(store.SalePrefix(), store.SaleKey(300), func(k, v []byte) (bool, error) {
				got = append(got, string(v))
				return len(got) < 3, nil
			})
		})
		if err != nil || fmt.Sprint(got) != "[299 298 297]" {
			t.Fatalf("reverse before 300: %v, %v", got, err)
		}
		got = nil
		db.View(func(x *store.Txn) error {
			return x.Reverse(store.SalePrefix(), store.SaleKey(1), func(k, v []byte) (bool, error) {
				got = append(got, string(v))
				return true, nil
			})
		})
		if len(got) != 0 {
			t.Fatalf("reverse before the first key: %v", got)
		}
	})
}

func TestEnginesNextSeq(t *testing.T) {
	forEngines(t, func(t *testing.T, db *store.DB) {
		for want := int64(1); want <= 3; want++ {
			var got int64
			if err := db.Update(func(x *store.Txn) (err error) { got, err = x.NextSeq("audit"); return }); err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Fatalf("NextSeq = %d, want %d", got, want)
			}
		}
		put(t, db, string(store.CounterKey("bad")), "x1")
		err := db.Update(func(x *store.Txn) error { _, err := x.NextSeq("bad"); return err })
		if !errors.Is(err, store.ErrCorrupt) {
			t.Fatalf("NextSeq over a corrupt counter = %v", err)
		}
	})
}

func TestEnginesJSONHelpers(t *testing.T) {
	forEngines(t, func(t *testing.T, db *store.DB) {
		type rec struct {
			Name string `json:"name"`
			N    int    `json:"n"`
		}
		if err := db.Update(func(x *store.Txn) error { return x.PutJSON(store.CustomerKey("acme"), rec{"Acme", 7}) }); err != nil {
			t.Fatal(err)
		}
		put(t, db, string(store.CustomerKey("broken")), "{not json")
		db.View(func(x *store.Txn) error {
			var r rec
			if err := x.GetJSON(store.CustomerKey("acme"), &r); err != nil || r != (rec{"Acme", 7}) {
				t.Errorf("GetJSON = %+v, %v", r, err)
			}
			if err := x.GetJSON(store.CustomerKey("broken"), &r); !errors.Is(err, store.ErrCorrupt) {
				t.Errorf("GetJSON of a corrupt value = %v", err)
			}
			if err := x.GetJSON(store.CustomerKey("none"), &r); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("GetJSON of a missing key = %v", err)
			}
			return nil
		})
		if err := db.Update(func(x *store.Txn) error { return x.PutJSON(store.CustomerKey("x"), func() {}) }); err == nil {
			t.Fatal("PutJSON of an unencodable value succeeded")
		}
	})
}

// TestEnginesRollbackOnError: nothing a failed Update wrote is visible,
// and what it overwrote or deleted is intact.
func TestEnginesRollbackOnError(t *testing.T) {
	forEngines(t, func(t *testing.T, db *store.DB) {
		put(t, db, "k/keep", "old")
		boom := errors.New("boom")
		err := db.Update(func(x *store.Txn) error {
			for i := int64(1); i <= 100; i++ {
				if err := x.Put(store.SaleKey(i), []byte("x")); err != nil {
					return err
				}
			}
			if err := x.Put([]byte("k/keep"), []byte("new")); err != nil {
				return err
			}
			if err := x.Delete([]byte("k/keep")); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("Update = %v", err)
		}
		n := 0
		db.View(func(x *store.Txn) error {
			return x.Scan(store.SalePrefix(), nil, false, func(k, v []byte) (bool, error) { n++; return true, nil })
		})
		if n != 0 {
			t.Fatalf("%d records of a failed transaction were applied", n)
		}
		db.View(func(x *store.Txn) error {
			if v, err := x.Get([]byte("k/keep")); err != nil || string(v) != "old" {
				t.Errorf("overwritten then deleted in a failed transaction: %q, %v", v, err)
			}
			return nil
		})
	})
}

// TestEnginesBulkLoad: a bulk load replaces the store's contents; keys
// that do not ascend are refused.
func TestEnginesBulkLoad(t *testing.T) {
	forEngines(t, func(t *testing.T, db *store.DB) {
		put(t, db, "zz/old", "x")
		i := 0
		err := db.BulkLoad(func() ([]byte, []byte, bool) {
			if i == 1000 {
				return nil, nil, false
			}
			i++
			return store.HourlyCountKey("dev-1", int64(i)*3600), []byte(fmt.Sprint(i)), true
		})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		db.View(func(x *store.Txn) error {
			if ok, _ := x.Has([]byte("zz/old")); ok {
				t.Error("a bulk load kept a key written before it")
			}
			return x.ScanInPlace(store.HourlyCountPrefix("dev-1"), store.HourlyCountKey("dev-1", 997*3600), func(_, v []byte) (bool, error) {
				got = append(got, string(v))
				return true, nil
			})
		})
		if fmt.Sprint(got) != "[998 999 1000]" {
			t.Fatalf("scan after 997: %v", got)
		}
		keys := [][]byte{store.CustomerKey("b"), store.CustomerKey("a")}
		err = db.BulkLoad(func() ([]byte, []byte, bool) {
			if len(keys) == 0 {
				return nil, nil, false
			}
			k := keys[0]
			keys = keys[1:]
			return k, nil, true
		})
		if !errors.Is(err, store.ErrBulkOrder) {
			t.Fatalf("descending keys: %v", err)
		}
	})
}

// TestPostgresSerializableRetries: two goroutines each increment one
// counter 200 times, each increment its own Update with nothing else
// serializing them: PostgreSQL aborts one of every colliding pair
// (SERIALIZABLE) and Update runs it again, so the count ends at exactly
// 400 and retries were needed to get there.
func TestPostgresSerializableRetries(t *testing.T) {
	db := storetest.OpenPostgres(t, store.Options{Logger: quiet})
	var retries atomic.Int64
	store.SetRetryHook(db, func() { retries.Add(1) })
	const each = 200
	// In the first rounds both transactions read the counter before
	// either writes it (a barrier on their first attempt), so they
	// collide for certain; the later rounds race freely.
	const forced = 10
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	barriers := make([]sync.WaitGroup, forced)
	for i := range barriers {
		barriers[i].Add(2)
	}
	for range 2 {
		wg.Go(func() {
			for round := range each {
				first := true
				err := db.Update(func(x *store.Txn) error {
					var n int64
					v, err := x.Get(store.CounterKey("hits"))
					if err != nil && !errors.Is(err, store.ErrNotFound) {
						return err
					}
					fmt.Sscan(string(v), &n)
					if round < forced && first {
						first = false
						barriers[round].Done()
						barriers[round].Wait()
					}
					return x.Put(store.CounterKey("hits"), []byte(strconv.FormatInt(n+1, 10)))
				})
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var n int64
	db.View(func(x *store.Txn) error {
		v, err := x.Get(store.CounterKey("hits"))
		fmt.Sscan(string(v), &n)
		return err
	})
	if n != 2*each {
		t.Fatalf("counter = %d after %d increments (lost updates)", n, 2*each)
	}
	if retries.Load() == 0 {
		t.Fatal("no transaction was retried: the increments never collided, the test proves nothing")
	}
	if got := db.Retries(); got != uint64(retries.Load()) {
		t.Fatalf("Retries() = %d, the hook counted %d", got, retries.Load())
	}
	t.Logf("%d retries", retries.Load())
}

// TestPostgresConflictSurvivesWrapping: a conflict that fn reports wrapped
// beyond errors.As (%v) is still retried.
func TestPostgresConflictSurvivesWrapping(t *testing.T) {
	db := storetest.OpenPostgres(t, store.Options{Logger: quiet})
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for range 2 {
		wg.Go(func() {
			for range 100 {
				err := db.Update(func(x *store.Txn) error {
					if _, err := x.NextSeq("n"); err != nil {
						return fmt.Errorf("opaque: %v", err)
					}
					return nil
				})
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestPostgresTxnTooBig: a transaction over PostgresMaxTxnBytes fails with
// ErrTxnTooBig and writes nothing.
func TestPostgresTxnTooBig(t *testing.T) {
	db := storetest.OpenPostgres(t, store.Options{Logger: quiet})
	chunk := make([]byte, 8<<20)
	err := db.Update(func(x *store.Txn) error {
		for i := int64(1); i <= store.PostgresMaxTxnBytes/int64(len(chunk))+1; i++ {
			if err := x.Put(store.SaleKey(i), chunk); err != nil {
				return err
			}
		}
		return nil
	})
	if !errors.Is(err, store.ErrTxnTooBig) {
		t.Fatalf("Update of %d MiB = %v, want ErrTxnTooBig", store.PostgresMaxTxnBytes>>20+8, err)
	}
	db.View(func(x *store.Txn) error {
		if ok, _ := x.Has(store.SaleKey(1)); ok {
			t.Error("part of a too-big transaction was applied")
		}
		return nil
	})
}

// TestPostgresMigrationsOnceUnderLock: servers opening one new database at
// once apply the schema once (the advisory lock), and reopening applies
// nothing.
func TestPostgresMigrationsOnceUnderLock(t *testing.T) {
	u := storetest.PostgresURL(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			db, err := store.OpenPostgres(context.Background(), u, store.Options{Logger: quiet})
			if err == nil {
				err = db.Close()
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	db, err := store.OpenPostgres(context.Background(), u, store.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	put(t, db, "k", "v")
	n, err := store.SchemaVersions(db)
	if want := store.EmbeddedMigrations(); err != nil || n != want || want < 2 {
		t.Fatalf("schema versions recorded: %d, %v; want each of the %d once", n, err, want)
	}
}

// TestOpenPostgresHidesPassword: a server that cannot be reached is named
// in the error without the password in its URL.
func TestOpenPostgresHidesPassword(t *testing.T) {
	_, err := store.OpenEngine(context.Background(), "postgres://tg:s3cret@127.0.0.1:1/x?connect_timeout=1", store.Options{Logger: quiet})
	if err == nil || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("open of an unreachable server: %v", err)
	}
	_, err = store.OpenEngine(context.Background(), "mysql://x", store.Options{Logger: quiet})
	if err == nil || !strings.Contains(err.Error(), "badger or a postgres:// URL") {
		t.Fatalf("open of an unknown engine: %v", err)
	}
}

func benchUpdate(b *testing.B, db *store.DB) {
	v := bytes.Repeat([]byte("v"), 200)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		k := store.DeviceKey(fmt.Sprint("dev-", i%1000))
		if err := db.Update(func(x *store.Txn) error {
			if _, err := x.Get(k); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			return x.Put(k, v)
		}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUpdateBadger and BenchmarkUpdatePostgres: one small
// transaction (a get and a put, synced) on each engine.
func BenchmarkUpdateBadger(b *testing.B) { benchUpdate(b, engines[0].open(b)) }

func BenchmarkUpdatePostgres(b *testing.B) { benchUpdate(b, engines[1].open(b)) }

// TestEnginesPanicRollsBack: a panic in fn rolls the transaction back
// (on PostgreSQL a transaction left open would hold its row locks and
// block the next writer of the same key forever).
func TestEnginesPanicRollsBack(t *testing.T) {
	forEngines(t, func(t *testing.T, db *store.DB) {
		func() {
			defer func() { recover() }()
			db.Update(func(x *store.Txn) error {
				if err := x.Put([]byte("k"), []byte("half")); err != nil {
					return err
				}
				panic("boom")
			})
		}()
		done := make(chan error, 1)
		go func() { done <- db.Update(func(x *store.Txn) error { return x.Put([]byte("k"), []byte("v")) }) }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a write after a panicked transaction is blocked")
		}
	})
}

// TestBadgerConflictRetried: two writers over one badger store that read
// the same key before either writes it collide at commit (badger's
// ErrConflict); Update runs the loser again, as it does on PostgreSQL, so
// both increments land.
func TestBadgerConflictRetried(t *testing.T) {
	db, err := store.Open(store.Options{Dir: t.TempDir(), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var ready sync.WaitGroup
	ready.Add(2)
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for range 2 {
		wg.Go(func() {
			first := true
			errs <- db.Update(func(x *store.Txn) error {
				var n int64
				v, err := x.Get(store.CounterKey("hits"))
				if err != nil && !errors.Is(err, store.ErrNotFound) {
					return err
				}
				fmt.Sscan(string(v), &n)
				if first {
					first = false
					ready.Done()
					ready.Wait()
				}
				return x.Put(store.CounterKey("hits"), []byte(strconv.FormatInt(n+1, 10)))
			})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("conflicting update: %v", err)
		}
	}
	var n int64
	db.View(func(x *store.Txn) error {
		v, err := x.Get(store.CounterKey("hits"))
		fmt.Sscan(string(v), &n)
		return err
	})
	if n != 2 {
		t.Fatalf("counter = %d after 2 increments", n)
	}
	if r := db.Retries(); r != 1 {
		t.Fatalf("Retries() = %d, want 1: the loser ran again once", r)
	}
}
