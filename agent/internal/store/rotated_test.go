package store

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/tollgate-iot/tollgate/shared/clock"
)

// tinyLogs makes both badger logs rotate every few writes: a 16 KiB
// memtable (its WAL rotates with it) and a value log that takes 8 entries.
// Values over 256 bytes go to the value log.
func tinyLogs(o badger.Options) badger.Options {
	return o.WithMemTableSize(16 << 10).
		WithValueThreshold(256).
		WithValueLogMaxEntries(8)
}

// logTops lists dir and returns, per kind (".mem", ".vlog"), the names
// present and the highest-numbered one.
func logTops(t testing.TB, dir string) (present map[string]bool, top map[string]string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	present, top = map[string]bool{}, map[string]string{}
	topID := map[string]uint64{}
	for _, e := range entries {
		for _, ext := range logKinds {
			id, err := strconv.ParseUint(strings.TrimSuffix(e.Name(), ext), 10, 64)
			if !strings.HasSuffix(e.Name(), ext) || err != nil {
				continue
			}
			present[e.Name()] = true
			if _, ok := topID[ext]; !ok || id > topID[ext] {
				topID[ext], top[ext] = id, e.Name()
			}
		}
	}
	return present, top
}

func kindOf(name string) string { return filepath.Ext(name) }

// TestSyncFsyncsRotatedLogs writes through many memtable and value-log
// rotations, one Sync after each write, and checks through the fsync hook
// that every rotated WAL and value-log file is fsynced exactly once, after
// the last write it holds, and by the first Sync after its rotation; and
// that the current file of a kind is never the one fsynced by the hook
// (DB.Sync covers it).
func TestSyncFsyncsRotatedLogs(t *testing.T) {
	dir := t.TempDir()
	var committed atomic.Int64 // index of the last committed write
	var mu sync.Mutex
	calls := map[string][]int64{} // file name → committed index at each fsync
	hook := func(path string) error {
		name := filepath.Base(path)
		_, top := logTops(t, dir)
		if top[kindOf(name)] == name {
			t.Errorf("hook fsynced %s while it is the current %s file", name, kindOf(name))
		}
		if err := fsyncPath(path); err != nil {
			return err
		}
		mu.Lock()
		calls[name] = append(calls[name], committed.Load())
		mu.Unlock()
		return nil
	}
	s, err := Open(context.Background(), Options{
		Dir: dir, Key: testKey(), Tune: tinyLogs, fsyncFile: hook,
		Clock: clock.NewFake(time.Unix(0, 0)), // no value-log GC during the test
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	small, large := bytes.Repeat([]byte("s"), 64), bytes.Repeat([]byte("L"), 1024)
	lastWrite := map[string]int64{} // file name → last write index it holds
	checked := map[string]bool{}
	const n = 900
	for i := int64(1); i <= n; i++ {
		val := small
		if i%3 == 0 {
			val = large
		}
		key := fmt.Appendf(nil, "k/%06d", i)
		if err := s.DB().Update(func(txn *badger.Txn) error { return txn.Set(key, val) }); err != nil {
			t.Fatal(err)
		}
		committed.Store(i)
		// One writer, so the write is in the current file of each kind
		// it went to: no rotation can happen until the next write.
		_, top := logTops(t, dir)
		lastWrite[top[".mem"]] = i
		if len(val) > 256 {
			lastWrite[top[".vlog"]] = i
		}
		if err := s.Flush(); err != nil {
			t.Fatal(err)
		}
		present, top := logTops(t, dir)
		mu.Lock()
		for name := range present {
			if top[kindOf(name)] == name || lastWrite[name] == 0 {
				continue
			}
			// Rotated and present after Sync returned: fsynced once,
			// after its last write.
			c := calls[name]
			if len(c) != 1 {
				t.Fatalf("after write %d: rotated %s fsynced %d times, want 1", i, name, len(c))
			}
			if c[0] < lastWrite[name] {
				t.Fatalf("%s fsynced at write %d, before its last write %d", name, c[0], lastWrite[name])
			}
			checked[name] = true
		}
		mu.Unlock()
	}
	mu.Lock()
	defer mu.Unlock()
	for name, c := range calls {
		if len(c) != 1 {
			t.Errorf("%s fsynced %d times, want once", name, len(c))
		}
	}
	perKind := map[string]int{}
	for name := range checked {
		perKind[kindOf(name)]++
	}
	// 900 writes of ~100 WAL bytes through 16 KiB memtables, 300 large
	// values through 8-entry value logs: about five WAL rotations (a WAL
	// whose memtable is flushed before the check is deleted, and then
	// needs no fsync) and dozens of value-log rotations (nothing deletes
	// a value log here: GC is off).
	if perKind[".mem"] < 1 || perKind[".vlog"] < 30 {
		t.Fatalf("rotations checked: %v, want ≥ 1 .mem and ≥ 30 .vlog", perKind)
	}
	t.Logf("rotated files checked: %v", perKind)
}

// TestSyncConcurrentRotated runs writers and Syncs at once (for -race):
// no rotated file is fsynced twice, and every write survives a reopen.
func TestSyncConcurrentRotated(t *testing.T) {
	dir := t.TempDir()
	var mu sync.Mutex
	calls := map[string]int{}
	hook := func(path string) error {
		if err := fsyncPath(path); err != nil {
			return err
		}
		mu.Lock()
		calls[filepath.Base(path)]++
		mu.Unlock()
		return nil
	}
	s, err := Open(context.Background(), Options{
		Dir: dir, Key: testKey(), Tune: tinyLogs, fsyncFile: hook,
		Clock: clock.NewFake(time.Unix(0, 0)),
	})
	if err != nil {
		t.Fatal(err)
	}
	const writers, each = 4, 120
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				key := fmt.Appendf(nil, "w%d/%04d", w, i)
				val := bytes.Repeat([]byte{byte('a' + w)}, 64+(i%2)*1024)
				if err := s.DB().Update(func(txn *badger.Txn) error { return txn.Set(key, val) }); err != nil {
					errs <- err
					return
				}
				if err := s.Flush(); err != nil {
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
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	for name, c := range calls {
		if c != 1 {
			t.Errorf("%s fsynced %d times, want once", name, c)
		}
	}
	if len(calls) == 0 {
		t.Error("no rotated file was fsynced")
	}
	mu.Unlock()
	s, err = Open(context.Background(), Options{Dir: dir, Key: testKey(), Tune: tinyLogs})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var count int
	err = s.DB().View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.DefaultIteratorOptions)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			count++
		}
		return nil
	})
	if err != nil || count != writers*each {
		t.Fatalf("after reopen: %d keys, %v; want %d", count, err, writers*each)
	}
}

// TestNoDirectDBSync keeps every fsync of this package going through
// Store.Flush: a bare s.db.Sync() would miss the rotated logs again.
func TestNoDirectDBSync(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if f == "store.go" || strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte("db.Sync()")) {
			t.Errorf("%s calls badger's DB.Sync directly; call Store.Flush", f)
		}
	}
}
