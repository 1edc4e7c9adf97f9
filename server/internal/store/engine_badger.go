package store

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/tollgate-iot/tollgate/shared/clock"
)

// badgerEngine is the store in a local badger directory. Close stops the
// GC ticker, then closes badger.
type badgerEngine struct {
	db      *badger.DB
	log     *slog.Logger
	ratio   float64
	stop    chan struct{}
	done    chan struct{}
	closeMu sync.Once
	gcRuns  func() // test hook: called after each GC pass
	retried atomic.Uint64
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

// Open opens (creating if needed) the badger store in o.Dir and starts
// value-log GC.
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
	e := &badgerEngine{db: bdb, log: o.Logger, ratio: o.GCDiscardRatio, stop: make(chan struct{}), done: make(chan struct{}), gcRuns: o.onGC}
	go e.gcLoop(clock.OrReal(o.Clock).NewTicker(o.GCInterval))
	return &DB{eng: e, retries: &e.retried}, nil
}

// gcLoop runs value-log GC on every tick. One RunValueLogGC call frees at
// most one file, so each pass loops until badger has nothing to rewrite.
func (e *badgerEngine) gcLoop(t clock.Ticker) {
	defer close(e.done)
	defer t.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-t.C():
			n := 0
			for n < 100 && e.db.RunValueLogGC(e.ratio) == nil {
				n++
			}
			if n > 0 {
				e.log.Info("value log gc", "files_rewritten", n)
			}
			if e.gcRuns != nil {
				e.gcRuns()
			}
		}
	}
}

func (e *badgerEngine) close() error {
	var err error
	e.closeMu.Do(func() {
		close(e.stop)
		<-e.done
		err = e.db.Close()
	})
	return err
}

func (e *badgerEngine) sync() error { return e.db.Sync() }

// BadgerMaxAttempts bounds how often Update runs a transaction that lost
// a write conflict to another transaction of the same process (badger's
// optimistic concurrency: ErrConflict at commit). The ledger serializes
// its own writes, so a conflict needs two writers over one store — what
// two ledgers over one PostgreSQL database are, and Update answers it the
// same way on both engines: fn runs again from the start.
const BadgerMaxAttempts = 12

func (e *badgerEngine) update(fn func(engineTxn) error) error {
	for attempt := 1; ; attempt++ {
		err := e.db.Update(func(t *badger.Txn) error { return fn(badgerTxn{t}) })
		if !errors.Is(err, badger.ErrConflict) || attempt == BadgerMaxAttempts {
			return err
		}
		e.retried.Add(1)
	}
}

func (e *badgerEngine) view(fn func(engineTxn) error) error {
	return e.db.View(func(t *badger.Txn) error { return fn(badgerTxn{t}) })
}

// badgerTxn is one badger transaction.
type badgerTxn struct{ t *badger.Txn }

func (x badgerTxn) get(k []byte) ([]byte, bool, error) {
	it, err := x.t.Get(k)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	v, err := it.ValueCopy(nil)
	return v, err == nil, err
}

func (x badgerTxn) has(k []byte) (bool, error) {
	_, err := x.t.Get(k)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	return err == nil, err
}

func (x badgerTxn) put(k, v []byte) error { return x.t.Set(k, v) }

func (x badgerTxn) del(k []byte) error { return x.t.Delete(k) }

func (x badgerTxn) scan(p, start []byte, withValues, inPlace bool, fn func(k, v []byte) (bool, error)) error {
	o := badger.DefaultIteratorOptions
	o.Prefix = p
	o.PrefetchValues = withValues && !inPlace
	it := x.t.NewIterator(o)
	defer it.Close()
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

func (x badgerTxn) reverse(p, before []byte, fn func(k, v []byte) (bool, error)) error {
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

// begin does nothing: the transaction is open, and the ledger's writers
// were serialized before it opened.
func (badgerTxn) begin() error { return nil }

// prefetch does nothing: a badger read is a lookup in memory or the page
// cache, not a round trip.
func (badgerTxn) prefetch([][]byte) error { return nil }

// keysUnder walks each prefix with a key-only iterator (no value
// prefetch, which is what makes a reverse walk dear), backwards for desc.
func (x badgerTxn) keysUnder(prefixes [][]byte, n int, desc bool) ([][][]byte, error) {
	out := make([][][]byte, len(prefixes))
	for i, p := range prefixes {
		o := badger.DefaultIteratorOptions
		o.Prefix, o.PrefetchValues, o.Reverse = p, false, desc
		it := x.t.NewIterator(o)
		start := p
		if desc { // the least key above the prefix; a reverse seek stops at or below it
			if start = prefixEnd(p); start == nil {
				start = append(append([]byte{}, p...), bytes.Repeat([]byte{0xff}, 64)...)
			}
		}
		it.Seek(start)
		if desc && it.Valid() && bytes.Equal(it.Item().Key(), start) {
			it.Next()
		}
		for ; it.ValidForPrefix(p) && len(out[i]) < n; it.Next() {
			out[i] = append(out[i], it.Item().KeyCopy(nil))
		}
		it.Close()
	}
	return out, nil
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
