// Package store is the agent's durable state: one badger database opened
// with a small-footprint profile and encrypted at rest with a key that lives
// outside the database directory (see statekey.go).
//
// Everything the agent must not forget across a crash lives here: the device
// identity, the pinned trust bundle, license tokens and the highest version
// seen per license, the revocation list, the effective clock, deduction
// records, hourly sample buckets, sample sequences, refusal counters and the
// outbox of telemetry not yet acknowledged by the broker.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"

	"github.com/tollgate-iot/tollgate/agent/internal/limits"
	"github.com/tollgate-iot/tollgate/shared/clock"
)

// ErrNotFound reports a record that is not in the store.
var ErrNotFound = errors.New("not found")

// ErrCorrupt reports a stored record that does not decode or breaks a bound.
var ErrCorrupt = errors.New("state database is corrupt")

// ErrLocked reports a state database held by another process (a running
// agent).
var ErrLocked = errors.New("state database is in use by another process")

// ErrBadKey reports a state key that does not open the database.
var ErrBadKey = errors.New("state key does not match the database")

// Options configures Open.
type Options struct {
	// Dir is the badger directory.
	Dir string
	// Key is the AES key (16, 24 or 32 bytes) the data is encrypted with.
	Key []byte
	// Logger receives badger's warnings; nil means slog.Default().
	Logger *slog.Logger
	// Clock drives the value-log GC ticker; nil means the real clock.
	Clock clock.Clock
	// Tune, if set, adjusts the badger options after Profile (tests use it
	// for tiny memtables and value logs that rotate every few writes).
	Tune func(badger.Options) badger.Options

	// fsyncFile replaces the fsync of rotated log files (rotated.go); tests
	// inject it to see which files are fsynced when.
	fsyncFile func(path string) error
}

// Store is the open state database. It is safe for concurrent use.
type Store struct {
	db   *badger.DB
	rot  *rotatedSyncer
	log  *slog.Logger
	stop chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

// Profile returns the badger options Tollgate uses on devices. Badger's
// defaults are sized for servers (5 × 64 MiB memtables, 256 MiB block
// cache, 1 GiB value-log files); on a gateway with 64–256 MiB of RAM that is
// most of the machine. The profile below was measured on this project
// (docs/dependencies.md) to cut peak RSS roughly in half; docs/agent.md explains
// each value.
func Profile(dir string, key []byte) badger.Options {
	return badger.DefaultOptions(dir).
		WithMemTableSize(8 << 20).
		WithNumMemtables(2).
		WithNumLevelZeroTables(2).
		WithNumLevelZeroTablesStall(4).
		WithBaseTableSize(1 << 20).
		WithBaseLevelSize(4 << 20).
		WithValueLogFileSize(16 << 20).
		// Every record the agent reads back is at most
		// MaxStoredRecordBytes: all of them stay in the LSM tree, whose
		// table checksums are verified (below), never in the value log,
		// whose damage badger repairs by truncation at open (see
		// docs/agent.md). Well under 15% of the memtable.
		WithValueThreshold(limits.MaxStoredRecordBytes + 1).
		WithBlockCacheSize(4 << 20). // must be > 0 with encryption on
		WithIndexCacheSize(2 << 20). // required with encryption
		WithNumCompactors(2).        // 1 is rejected by badger
		WithNumGoroutines(2).
		WithMetricsEnabled(false).
		WithCompression(options.None).
		WithSyncWrites(false). // we fsync explicitly where durability matters
		WithDetectConflicts(false).
		WithNumVersionsToKeep(1).
		WithEncryptionKey(key).
		WithEncryptionKeyRotationDuration(30 * 24 * time.Hour).
		// Badger checks only a table's index at open by default: a flipped
		// byte in a data block would be read back as another key or value
		// (licenses silently gone). Verify every block of every table when
		// it is opened, and every value-log entry when it is read.
		WithChecksumVerificationMode(options.OnTableRead).
		WithVerifyValueChecksum(true)
}

// Open opens (creating if needed) the state database.
func Open(ctx context.Context, o Options) (*Store, error) {
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	opts := Profile(o.Dir, o.Key)
	if o.Tune != nil {
		opts = o.Tune(opts)
	}
	opts = opts.WithLogger(badgerLogger{log})
	db, err := badger.Open(opts)
	if err != nil {
		msg := err.Error()
		switch {
		case strings.Contains(msg, "Cannot acquire directory lock"):
			return nil, fmt.Errorf("%w: %s", ErrLocked, o.Dir)
		case strings.Contains(msg, "Encryption key mismatch"), strings.Contains(msg, "encryption key"):
			return nil, fmt.Errorf("%w: %v", ErrBadKey, err)
		case isDamage(err):
			return nil, damaged(o.Dir, err)
		}
		return nil, fmt.Errorf("store: open %s: %w", o.Dir, err)
	}
	s := &Store{db: db, rot: newRotatedSyncer(opts.Dir, opts.ValueDir, o.fsyncFile), log: log, stop: make(chan struct{})}
	s.wg.Add(1)
	go s.gcLoop(clock.OrReal(o.Clock))
	return s, nil
}

// DB returns the badger handle, for the outbox (it owns a key range) and
// for tests; every other package goes through Update, View and Count.
func (s *Store) DB() *badger.DB { return s.db }

// Txn is one transaction on the state database. The key helpers of this
// package (SetInt, SetJSON, AddRefused, …) and the outbox's Append write
// through it, so that callers commit several records at once without
// depending on the database underneath.
type Txn = badger.Txn

// Update runs fn in one read-write transaction, committed if fn returns
// nil and discarded otherwise.
func (s *Store) Update(fn func(*Txn) error) error { return s.db.Update(fn) }

// Count returns how many keys start with prefix.
func (s *Store) Count(prefix []byte) (int64, error) {
	var n int64
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			n++
		}
		return nil
	})
	return n, err
}

// Flush forces everything written so far to disk (fsync), for power-loss
// durability: badger's DB.Sync covers only the current memtable WAL and
// value-log file, so Flush then fsyncs the log files that rotated since
// (rotated.go). Code in this package calls Flush, never s.db.Sync. ("Sync"
// in this codebase is the license-server sync.)
func (s *Store) Flush() error {
	if err := s.db.Sync(); err != nil {
		return err
	}
	return s.rot.sync()
}

// Close stops the GC loop and closes the database. It is idempotent.
func (s *Store) Close() error {
	var err error
	s.once.Do(func() {
		close(s.stop)
		s.wg.Wait()
		err = s.db.Close()
	})
	return err
}

// gcLoop collects the value log on a ticker until Close; badger frees at
// most one file per call, so it loops while a call succeeds.
func (s *Store) gcLoop(clk clock.Clock) {
	defer s.wg.Done()
	t := clk.NewTicker(limits.ValueLogGCInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C():
			for s.db.RunValueLogGC(0.5) == nil {
				// GC moved live values into the current log without an
				// fsync and has already deleted the old file: make the
				// move durable now, leaving power loss only the window
				// between badger's unlink and this Flush.
				if err := s.Flush(); err != nil {
					s.log.Warn("store: fsync after value-log GC", "err", err)
				}
				select {
				case <-s.stop:
					return
				default:
				}
			}
		}
	}
}

// GetJSON reads the record at key into v.
func (s *Store) GetJSON(key []byte, v any) error {
	return s.db.View(func(txn *badger.Txn) error { return getJSON(txn, key, v) })
}

// PutJSON writes v at key in its own transaction.
func (s *Store) PutJSON(key []byte, v any) error {
	return s.db.Update(func(txn *badger.Txn) error { return SetJSON(txn, key, v) })
}

// GetBytes returns a copy of the value at key.
func (s *Store) GetBytes(key []byte) ([]byte, error) {
	var out []byte
	err := s.db.View(func(txn *badger.Txn) error {
		var err error
		out, err = getBytes(txn, key)
		return err
	})
	return out, err
}

// SetJSON encodes v and sets it at key inside txn.
func SetJSON(txn *badger.Txn, key []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("store: encode %q: %w", key, err)
	}
	return txn.Set(key, b)
}

func getBytes(txn *badger.Txn, key []byte) ([]byte, error) {
	it, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, key)
	}
	if err != nil {
		return nil, err
	}
	if it.ValueSize() > limits.MaxStoredRecordBytes {
		return nil, fmt.Errorf("%w: record %q is %d bytes", ErrCorrupt, key, it.ValueSize())
	}
	var b []byte
	err = itemValue(it, func(v []byte) error {
		b = append([]byte{}, v...)
		return nil
	})
	return b, err
}

func getJSON(txn *badger.Txn, key []byte, v any) error {
	b, err := getBytes(txn, key)
	if err != nil {
		return err
	}
	return decodeJSON(key, b, v)
}

func decodeJSON(key, b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%w: record %q: %v", ErrCorrupt, key, err)
	}
	return nil
}

// badgerLogger sends badger's log lines to slog; info and debug lines are
// dropped (badger is chatty about compactions).
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(f string, a ...any) {
	b.l.Error("badger", "msg", strings.TrimSpace(fmt.Sprintf(f, a...)))
}
func (b badgerLogger) Warningf(f string, a ...any) {
	b.l.Warn("badger", "msg", strings.TrimSpace(fmt.Sprintf(f, a...)))
}
func (b badgerLogger) Infof(string, ...any)  {}
func (b badgerLogger) Debugf(string, ...any) {}
