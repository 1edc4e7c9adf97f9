package store_test

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/tollgate-iot/tollgate/server/internal/store"
)

// TestPrefetchAnswersAsGet: after Prefetch, every read answers what a
// plain read would — values, empty values, missing keys, the transaction's
// own writes and deletes — and a key prefetched twice or not at all reads
// as before.
func TestPrefetchAnswersAsGet(t *testing.T) {
	forEngines(t, func(t *testing.T, db *store.DB) {
		put(t, db, "p/a", "1", "p/empty", "", "p/gone", "x", "p/later", "old")
		err := db.Update(func(x *store.Txn) error {
			if err := x.Put([]byte("p/new"), []byte("mine")); err != nil {
				return err
			}
			if err := x.Delete([]byte("p/gone")); err != nil {
				return err
			}
			keys := [][]byte{[]byte("p/a"), []byte("p/empty"), []byte("p/missing"), []byte("p/a"), []byte("p/new"), []byte("p/gone")}
			if err := x.Prefetch(keys); err != nil {
				return err
			}
			// Written after the prefetch: the write is what a read sees.
			if err := x.Put([]byte("p/a"), []byte("2")); err != nil {
				return err
			}
			for k, want := range map[string]string{"p/a": "2", "p/empty": "", "p/new": "mine", "p/later": "old"} {
				v, err := x.Get([]byte(k))
				if err != nil || string(v) != want || v == nil {
					t.Errorf("Get %s = %q (nil %v), %v; want %q", k, v, v == nil, err, want)
				}
			}
			for _, k := range []string{"p/missing", "p/gone"} {
				if _, err := x.Get([]byte(k)); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("Get %s = %v, want ErrNotFound", k, err)
				}
				if ok, err := x.Has([]byte(k)); ok || err != nil {
					t.Errorf("Has %s = %v, %v", k, ok, err)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

// TestPrefetchReadsTheSnapshot: a view's prefetched values are its
// snapshot's — a commit made after the view began is not in them, as it
// would not be in a plain read.
func TestPrefetchReadsTheSnapshot(t *testing.T) {
	forEngines(t, func(t *testing.T, db *store.DB) {
		put(t, db, "s/a", "before")
		err := db.View(func(x *store.Txn) error {
			if _, err := x.Get([]byte("s/b")); !errors.Is(err, store.ErrNotFound) { // the snapshot is taken
				return fmt.Errorf("s/b: %v", err)
			}
			put(t, db, "s/a", "after")
			if err := x.Prefetch([][]byte{[]byte("s/a")}); err != nil {
				return err
			}
			v, err := x.Get([]byte("s/a"))
			if err != nil || string(v) != "before" {
				t.Errorf("Get s/a = %q, %v; want the snapshot's %q", v, err, "before")
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

// TestBatchedReadsBounded: more keys or prefixes than the bounds is
// refused, naming the bound.
func TestBatchedReadsBounded(t *testing.T) {
	forEngines(t, func(t *testing.T, db *store.DB) {
		err := db.View(func(x *store.Txn) error {
			keys := make([][]byte, store.MaxPrefetchKeys+1)
			for i := range keys {
				keys[i] = fmt.Appendf(nil, "k/%d", i)
			}
			if err := x.Prefetch(keys); !errors.Is(err, store.ErrBatchTooBig) {
				t.Errorf("Prefetch of %d keys = %v, want ErrBatchTooBig", len(keys), err)
			}
			if _, err := x.KeysUnder(keys[:store.MaxKeysUnder+1], 1, false); !errors.Is(err, store.ErrBatchTooBig) {
				t.Errorf("KeysUnder of %d prefixes = %v, want ErrBatchTooBig", store.MaxKeysUnder+1, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

// TestKeysUnder: the first or last n keys of each prefix, nothing of a
// neighbour's (p/a is no prefix of p/ab's keys here: prefixes end in /),
// the transaction's own writes and deletes seen, and a prefix with no key
// above it (all 0xff) walked too.
func TestKeysUnder(t *testing.T) {
	forEngines(t, func(t *testing.T, db *store.DB) {
		put(t, db, "p/a/1", "", "p/a/2", "", "p/a/3", "", "p/ab/1", "", "p/c/9", "", "\xff\xff", "", "\xff\xff\x01", "")
		err := db.Update(func(x *store.Txn) error {
			if err := x.Put([]byte("p/b/5"), nil); err != nil {
				return err
			}
			if err := x.Delete([]byte("p/a/3")); err != nil {
				return err
			}
			ps := [][]byte{[]byte("p/a/"), []byte("p/b/"), []byte("p/none/"), []byte("p/c/"), []byte("\xff\xff")}
			for _, c := range []struct {
				n    int
				desc bool
				want [][]string
			}{
				{2, false, [][]string{{"p/a/1", "p/a/2"}, {"p/b/5"}, nil, {"p/c/9"}, {"\xff\xff", "\xff\xff\x01"}}},
				{1, true, [][]string{{"p/a/2"}, {"p/b/5"}, nil, {"p/c/9"}, {"\xff\xff\x01"}}},
				{10, true, [][]string{{"p/a/2", "p/a/1"}, {"p/b/5"}, nil, {"p/c/9"}, {"\xff\xff\x01", "\xff\xff"}}},
			} {
				got, err := x.KeysUnder(ps, c.n, c.desc)
				if err != nil {
					return err
				}
				var gs [][]string
				for _, ks := range got {
					var s []string
					for _, k := range ks {
						s = append(s, string(k))
					}
					gs = append(gs, s)
				}
				if !slices.EqualFunc(gs, c.want, slices.Equal) {
					t.Errorf("KeysUnder(n=%d, desc=%v) = %q, want %q", c.n, c.desc, gs, c.want)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

// TestReadOnce: one read answers as in a view; on PostgreSQL, where it is
// sent without a transaction, a second read is refused rather than read
// from another snapshot.
func TestReadOnce(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			db := e.open(t)
			put(t, db, "o/a", "1", "o/b", "2")
			var v []byte
			if err := db.ReadOnce(func(x *store.Txn) error {
				var err error
				v, err = x.Get([]byte("o/a"))
				return err
			}); err != nil || string(v) != "1" {
				t.Fatalf("ReadOnce Get = %q, %v", v, err)
			}
			var keys []string
			if err := db.ReadOnce(func(x *store.Txn) error {
				return x.Scan([]byte("o/"), nil, false, func(k, _ []byte) (bool, error) {
					keys = append(keys, string(k))
					return true, nil
				})
			}); err != nil || !slices.Equal(keys, []string{"o/a", "o/b"}) {
				t.Fatalf("ReadOnce Scan = %q, %v", keys, err)
			}
			err := db.ReadOnce(func(x *store.Txn) error {
				if _, err := x.Get([]byte("o/a")); err != nil {
					return err
				}
				_, err := x.Get([]byte("o/b"))
				return err
			})
			if e.name == "postgres" && !errors.Is(err, store.ErrSecondRead) {
				t.Fatalf("two reads in ReadOnce on PostgreSQL = %v, want ErrSecondRead", err)
			}
			if e.name == "badger" && err != nil {
				t.Fatalf("two reads in ReadOnce on badger (a view) = %v", err)
			}
			// The connection is usable after: the next view reads.
			if err := db.View(func(x *store.Txn) error {
				v, err := x.Get([]byte("o/b"))
				if err == nil && !bytes.Equal(v, []byte("2")) {
					err = fmt.Errorf("o/b = %q", v)
				}
				return err
			}); err != nil {
				t.Fatal(err)
			}
		})
	}
}
