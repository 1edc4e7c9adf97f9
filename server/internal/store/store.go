// Package store is the server's durable storage: an ordered key-value store
// with transactions, typed JSON helpers over them and key builders
// (keys*.go). Two engines sit behind it: badger in a local directory (the
// default: one machine, every write synced to disk, value-log garbage
// collection on a ticker; engine_badger.go) and PostgreSQL (one table of
// byte keys and values, SERIALIZABLE transactions retried on conflict;
// engine_postgres.go). The ledger sees only DB and Txn, so its rules are
// written once for both.
package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/tollgate-iot/tollgate/shared/clock"
)

// ErrNotFound reports a key that does not exist.
var ErrNotFound = errors.New("not found")

// ErrCorrupt reports a stored value that does not decode.
var ErrCorrupt = errors.New("stored value is corrupt")

// ErrTxnTooBig reports a transaction over the engine's size limit (on
// badger a share of the profile's memtable size, on PostgreSQL
// PostgresMaxTxnWrites and PostgresMaxTxnBytes): the caller must write
// less in one go.
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

// Options configures Open and OpenPostgres.
type Options struct {
	// Dir is the badger directory (badger only).
	Dir string
	// Profile defaults to ProfileServer (badger only).
	Profile Profile
	// GCInterval is how often value-log GC runs; default 10 minutes
	// (badger only).
	GCInterval time.Duration
	// GCDiscardRatio is passed to RunValueLogGC; default 0.5 (badger only).
	GCDiscardRatio float64
	// Clock drives the GC ticker; nil means the real clock.
	Clock clock.Clock
	// Logger receives the engine's warnings and GC results; nil means
	// slog.Default().
	Logger *slog.Logger
	// Unsynced commits without waiting for the disk: a process crash loses
	// nothing, a power loss may lose acknowledged writes (on PostgreSQL:
	// synchronous_commit off for this store's sessions). Only for bulk
	// loads that are synced once at the end (Close, or DB.Sync) — tests and
	// benchmarks that build a fleet — never for a serving ledger.
	Unsynced bool

	onGC func() // test hook: called after each GC pass
}

// engine is what a storage engine implements; DB and Txn add the typed
// helpers once over it.
type engine interface {
	// update runs fn in a read-write transaction and commits it if fn
	// returns nil. An engine may run fn more than once (a retried
	// serialization failure); only the last run's writes are applied.
	update(fn func(engineTxn) error) error
	// view runs fn in a read-only transaction over one snapshot.
	view(fn func(engineTxn) error) error
	sync() error
	close() error
	bulkLoad(next func() (k, v []byte, ok bool)) error
}

// engineTxn is one transaction of an engine.
type engineTxn interface {
	// get returns a value the caller may keep; found false when k is
	// missing.
	get(k []byte) (v []byte, found bool, err error)
	has(k []byte) (bool, error)
	put(k, v []byte) error
	del(k []byte) error
	// scan calls fn for the keys with prefix p that are >= start, in key
	// order; k and v are valid only during fn. withValues false passes nil
	// values; inPlace reads values one at a time where the engine can.
	scan(p, start []byte, withValues, inPlace bool, fn func(k, v []byte) (bool, error)) error
	// reverse calls fn for the keys with prefix p below before (nil: all),
	// last first; k and v are copies.
	reverse(p, before []byte, fn func(k, v []byte) (bool, error)) error
	// prefetch reads keys (those it does not hold already) in one go and
	// remembers them, found or not, for the transaction's later reads;
	// an engine whose reads are not round trips does nothing.
	prefetch(keys [][]byte) error
	// keysUnder is KeysUnder (batchread.go).
	keysUnder(prefixes [][]byte, n int, desc bool) ([][][]byte, error)
	// begin is Begin (batchread.go).
	begin() error
}

// DB is an open store.
type DB struct {
	eng     engine
	retries *atomic.Uint64 // the engine's count of retried transactions
}

// OpenEngine opens the store named by spec: "" or "badger" is badger in
// o.Dir (Open); a postgres:// or postgresql:// URL is PostgreSQL
// (OpenPostgres).
func OpenEngine(ctx context.Context, spec string, o Options) (*DB, error) {
	switch {
	case spec == "" || spec == "badger":
		return Open(o)
	case IsPostgresURL(spec):
		return OpenPostgres(ctx, spec, o)
	default:
		return nil, fmt.Errorf("store: unknown store %q: use badger or a postgres:// URL", RedactURL(spec))
	}
}

// IsPostgresURL reports whether spec names a PostgreSQL database.
func IsPostgresURL(spec string) bool {
	return strings.HasPrefix(spec, "postgres://") || strings.HasPrefix(spec, "postgresql://")
}

// Close closes the store. It is safe to call more than once.
func (d *DB) Close() error { return d.eng.close() }

// Sync flushes every committed write to disk (what an Unsynced store
// defers).
func (d *DB) Sync() error { return d.eng.sync() }

// Retries returns how many transactions Update has run again since the
// store was opened because they lost a conflict with another transaction
// (PostgreSQL's serialization failures, badger's write conflicts): a
// steady climb means writers keep colliding on the same keys.
func (d *DB) Retries() uint64 { return d.retries.Load() }

// Update runs fn in a read-write transaction and commits it (synced) if fn
// returns nil; otherwise nothing fn wrote is applied. fn may run more than
// once (PostgreSQL retries a transaction that lost a serialization
// conflict), so it must touch nothing but the transaction, or reset what
// it sets outside at its start.
func (d *DB) Update(fn func(*Txn) error) error {
	return d.eng.update(func(t engineTxn) error { return fn(&Txn{t: t}) })
}

// View runs fn in a read-only transaction.
func (d *DB) View(fn func(*Txn) error) error {
	return d.eng.view(func(t engineTxn) error { return fn(&Txn{t: t}) })
}

// Txn is one transaction with typed helpers.
type Txn struct{ t engineTxn }

// Get returns a copy of the value at k, or ErrNotFound.
func (x *Txn) Get(k []byte) ([]byte, error) {
	v, ok, err := x.t.get(k)
	if err != nil {
		return nil, fmt.Errorf("store: get: %w", err)
	}
	if !ok {
		return nil, ErrNotFound
	}
	return v, nil
}

// Has reports whether k exists.
func (x *Txn) Has(k []byte) (bool, error) { return x.t.has(k) }

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
	if err := x.t.put(k, v); err != nil {
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
	if err := x.t.del(k); err != nil {
		return fmt.Errorf("store: delete: %w", err)
	}
	return nil
}

// Scan calls fn for every key with prefix p, in key order, starting at the
// first key greater than after (nil: from the start). withValues false reads
// keys only. fn returns false to stop. k and v are valid only during the
// call (no copy per entry): fn copies what it keeps.
func (x *Txn) Scan(p, after []byte, withValues bool, fn func(k, v []byte) (bool, error)) error {
	return x.t.scan(p, scanStart(p, after), withValues, false, fn)
}

// ScanInPlace is Scan with values, read one at a time where they lie
// instead of prefetched: for long walks over many small values (a month
// of hourly counts per device in a report), where prefetching copies
// every value ahead of its use. k and v are valid only during fn.
func (x *Txn) ScanInPlace(p, after []byte, fn func(k, v []byte) (bool, error)) error {
	return x.t.scan(p, scanStart(p, after), true, true, fn)
}

// scanStart is the first key a scan of p after after may return (an after
// below the prefix starts at the prefix).
func scanStart(p, after []byte) []byte {
	if after == nil || bytes.Compare(after, p) < 0 {
		return p
	}
	return append(append([]byte{}, after...), 0)
}

// Reverse calls fn for keys with prefix p from the last backwards, starting
// below before (nil: from the end).
func (x *Txn) Reverse(p, before []byte, fn func(k, v []byte) (bool, error)) error {
	return x.t.reverse(p, before, fn)
}

// NextSeq increments the named counter inside the transaction and returns
// the new value (1 for a fresh counter). On badger the ledger serializes
// the writers of one counter; on PostgreSQL two replicas taking the same
// counter conflict and one of them is retried.
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
