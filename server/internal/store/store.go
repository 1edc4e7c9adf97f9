// Package store is the server's durable storage: badger with a server
// profile, every write synced to disk, typed JSON helpers over transactions,
// key builders (keys.go) and value-log garbage collection on a ticker.
package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/tollgate-iot/tollgate/shared/clock"
)

// ErrNotFound reports a key that does not exist.
var ErrNotFound = errors.New("not found")

// ErrCorrupt reports a stored value that does not decode.
var ErrCorrupt = errors.New("stored value is corrupt")

// ErrTxnTooBig reports a transaction over badger's batch limit (a share of
// the profile's memtable size): the caller must write less in one go.
var ErrTxnTooBig = badger.ErrTxnTooBig

// Profile selects badger's memory and file sizes.
type Profile string

const (
	// ProfileServer sizes badger for a license server: a ledger of up to
	// millions of small records that must stay responsive while compacting.
	ProfileServer Profile = "server"
	// ProfileSmall is the small profile measured in docs/dependencies.md, for
	// tests and small installations (about half the resident memory).
	ProfileSmall Profile = "small"
)

// Options configures Open.
type Options struct {
	// Dir is the badger directory.
	Dir string
	// Profile defaults to ProfileServer.
	Profile Profile
	// GCInterval is how often value-log GC runs; default 10 minutes.
	GCInterval time.Duration
	// GCDiscardRatio is passed to RunValueLogGC; default 0.5.
	GCDiscardRatio float64
	// Clock drives the GC ticker; nil means the real clock.
	Clock clock.Clock
	// Logger receives badger's warnings and GC results; nil means slog.Default().
	Logger *slog.Logger
	// Unsynced commits without waiting for the disk: a process crash loses
	// nothing, a power loss may lose acknowledged writes. Only for bulk
	// loads that are synced once at the end (Close, or DB.Sync) — tests and
	// benchmarks that build a fleet — never for a serving ledger.
	Unsynced bool

	onGC func() // test hook: called after each GC pass
}

// DB is an open store. Close stops the GC ticker, then closes badger.
type DB struct {
	db      *badger.DB
	log     *slog.Logger
	ratio   float64
	stop    chan struct{}
	done    chan struct{}
	closeMu sync.Once
	gcRuns  func() // test hook: called after each GC pass
}

func badgerOptions(o Options) badger.Options {
	bo := badger.DefaultOptions(o.Dir).
		WithSyncWrites(!o.Unsynced). // the ledger is money: survive power loss
		WithLogger(badgerLogger{o.Logger}).
		WithMetricsEnabled(false).
		WithNumCompactors(2)
	switch o.Profile {
	case ProfileSmall:
		bo = bo.WithMemTableSize(8 << 20).WithNumMemtables(2).
			WithNumLevelZeroTables(2).WithNumLevelZeroTablesStall(4).
			WithBaseTableSize(1 << 20).WithBaseLevelSize(4 << 20).
			WithValueLogFileSize(16 << 20).WithBlockCacheSize(4 << 20).
			WithValueThreshold(1 << 10)
	default:
		// Values (licenses, audit entries) are a few hundred bytes: keep
		// them in the LSM tree, where a filtered list reads them without
		// a value-log seek. 32 MiB memtables keep the largest transaction
		// (a bulk create or sell of 1000 licenses) well inside one.
		bo = bo.WithMemTableSize(32 << 20).WithNumMemtables(3).
			WithNumLevelZeroTables(4).WithNumLevelZeroTablesStall(8).
			WithBaseTableSize(4 << 20).WithBaseLevelSize(16 << 20).
			WithValueLogFileSize(128 << 20).WithBlockCacheSize(64 << 20).
			WithValueThreshold(4 << 10)
	}
	return bo
}

// Open opens (creating if needed) the store in o.Dir and starts value-log GC.
func Open(o Options) (*DB, error) {
	if o.Dir == "" {
		return nil, errors.New("store: no directory")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.GCInterval <= 0 {
		o.GCInterval = 10 * time.Minute
	}
	if o.GCDiscardRatio <= 0 || o.GCDiscardRatio >= 1 {
		o.GCDiscardRatio = 0.5
	}
	bdb, err := badger.Open(badgerOptions(o))
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", o.Dir, err)
	}
	d := &DB{db: bdb, log: o.Logger, ratio: o.GCDiscardRatio, stop: make(chan struct{}), done: make(chan struct{}), gcRuns: o.onGC}
	go d.gcLoop(clock.OrReal(o.Clock).NewTicker(o.GCInterval))
	return d, nil
}

// gcLoop runs value-log GC on every tick. One RunValueLogGC call frees at
// most one file, so each pass loops until badger has nothing to rewrite.
func (d *DB) gcLoop(t clock.Ticker) {
	defer close(d.done)
	defer t.Stop()
	for {
		select {
		case <-d.stop:
			return
		case <-t.C():
			n := 0
			for n < 100 && d.db.RunValueLogGC(d.ratio) == nil {
				n++
			}
			if n > 0 {
				d.log.Info("value log gc", "files_rewritten", n)
			}
			if d.gcRuns != nil {
				d.gcRuns()
			}
		}
	}
}

// Close stops GC and closes badger. It is safe to call more than once.
func (d *DB) Close() error {
	var err error
	d.closeMu.Do(func() {
		close(d.stop)
		<-d.done
		err = d.db.Close()
	})
	return err
}

// Sync flushes every committed write to disk (what an Unsynced store
// defers).
func (d *DB) Sync() error { return d.db.Sync() }

// Update runs fn in a read-write transaction and commits it (synced) if fn
// returns nil; otherwise nothing fn wrote is applied.
func (d *DB) Update(fn func(*Txn) error) error {
	return d.db.Update(func(t *badger.Txn) error { return fn(&Txn{t: t}) })
}

// View runs fn in a read-only transaction.
func (d *DB) View(fn func(*Txn) error) error {
	return d.db.View(func(t *badger.Txn) error { return fn(&Txn{t: t}) })
}

// Txn is one badger transaction with typed helpers.
type Txn struct{ t *badger.Txn }

// Get returns a copy of the value at k, or ErrNotFound.
func (x *Txn) Get(k []byte) ([]byte, error) {
	it, err := x.t.Get(k)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: get: %w", err)
	}
	return it.ValueCopy(nil)
}

// Has reports whether k exists.
func (x *Txn) Has(k []byte) (bool, error) {
	_, err := x.t.Get(k)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	return err == nil, err
}

// GetJSON decodes the value at k into v.
func (x *Txn) GetJSON(k []byte, v any) error {
	b, err := x.Get(k)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrCorrupt, k, err)
	}
	return nil
}

// Put sets k to v.
func (x *Txn) Put(k, v []byte) error {
	if err := x.t.Set(k, v); err != nil {
		return fmt.Errorf("store: set: %w", err)
	}
	return nil
}

// PutJSON sets k to the JSON encoding of v.
func (x *Txn) PutJSON(k []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("store: encode %s: %w", k, err)
	}
	return x.Put(k, b)
}

// Delete removes k; deleting a missing key is not an error.
func (x *Txn) Delete(k []byte) error {
	if err := x.t.Delete(k); err != nil {
		return fmt.Errorf("store: delete: %w", err)
	}
	return nil
}

// Scan calls fn for every key with prefix p, in key order, starting at the
// first key greater than after (nil: from the start). withValues false reads
// keys only. fn returns false to stop. k and v are valid only during the
// call (no copy per entry): fn copies what it keeps.
func (x *Txn) Scan(p, after []byte, withValues bool, fn func(k, v []byte) (bool, error)) error {
	o := badger.DefaultIteratorOptions
	o.Prefix = p
	o.PrefetchValues = withValues
	it := x.t.NewIterator(o)
	defer it.Close()
	start := p
	if after != nil {
		start = append(append([]byte{}, after...), 0)
	}
	for it.Seek(start); it.ValidForPrefix(p); it.Next() {
		item := it.Item()
		var more bool
		var err error
		if withValues {
			verr := item.Value(func(v []byte) error {
				more, err = fn(item.Key(), v)
				return nil
			})
			if verr != nil {
				return fmt.Errorf("store: scan: %w", verr)
			}
		} else {
			more, err = fn(item.Key(), nil)
		}
		if err != nil || !more {
			return err
		}
	}
	return nil
}

// Reverse calls fn for keys with prefix p from the last backwards, starting
// below before (nil: from the end).
func (x *Txn) Reverse(p, before []byte, fn func(k, v []byte) (bool, error)) error {
	o := badger.DefaultIteratorOptions
	o.Prefix = p
	o.Reverse = true
	it := x.t.NewIterator(o)
	defer it.Close()
	start := append(append([]byte{}, p...), 0xff)
	if before != nil {
		start = before
	}
	for it.Seek(start); it.ValidForPrefix(p); it.Next() {
		item := it.Item()
		if before != nil && bytes.Equal(item.Key(), before) {
			continue
		}
		v, err := item.ValueCopy(nil)
		if err != nil {
			return fmt.Errorf("store: scan: %w", err)
		}
		more, err := fn(item.KeyCopy(nil), v)
		if err != nil || !more {
			return err
		}
	}
	return nil
}

// NextSeq increments the named counter inside the transaction and returns
// the new value (1 for a fresh counter). Writers of one counter are
// serialized by the caller, so the counter never conflicts.
func (x *Txn) NextSeq(name string) (int64, error) {
	k := CounterKey(name)
	var n int64
	b, err := x.Get(k)
	switch {
	case errors.Is(err, ErrNotFound):
	case err != nil:
		return 0, err
	default:
		if n, err = strconv.ParseInt(string(b), 10, 64); err != nil {
			return 0, fmt.Errorf("%w: counter %s", ErrCorrupt, name)
		}
	}
	n++
	return n, x.Put(k, []byte(strconv.FormatInt(n, 10)))
}

// badgerLogger sends badger's warnings and errors to slog; its info and
// debug chatter (compaction progress) is dropped.
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(f string, a ...any)   { b.log().Error("badger: " + fmt.Sprintf(f, a...)) }
func (b badgerLogger) Warningf(f string, a ...any) { b.log().Warn("badger: " + fmt.Sprintf(f, a...)) }
func (badgerLogger) Infof(string, ...any)          {}
func (badgerLogger) Debugf(string, ...any)         {}

func (b badgerLogger) log() *slog.Logger {
	if b.l == nil {
		return slog.Default()
	}
	return b.l
}
