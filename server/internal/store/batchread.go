package store

import (
	"errors"
	"fmt"
)

// Batched reads. A group commit of sync reports reads a few keys per
// report — the device, its sync state, the licenses its deductions name —
// and the answers read each device's licenses and tokens. One at a time
// they are a round trip each on PostgreSQL, made one after another by the
// one transaction every report waits for; asked for together they are one.
// On badger, where a read is a memory or page-cache lookup, the batched
// calls are the same reads made in a loop.

// MaxPrefetchKeys bounds the keys one Prefetch reads, and MaxKeysUnder the
// prefixes one KeysUnder walks: a bigger batch is the caller's mistake.
const (
	MaxPrefetchKeys = 8192
	MaxKeysUnder    = 1024
)

// ErrBatchTooBig is a Prefetch or KeysUnder over its bound.
var ErrBatchTooBig = errors.New("store: batched read too big")

// ErrSecondRead is a second read in ReadOnce: a caller's mistake, named so
// that a test catches it.
var ErrSecondRead = errors.New("store: a second read in a single-read view")

// singleReader is what an engine implements whose view costs more than
// its one read (PostgreSQL: BEGIN and ROLLBACK around it).
type singleReader interface {
	viewOnce(fn func(engineTxn) error) error
}

// Begin starts the transaction now instead of with its first read, and
// returns once it has started: on PostgreSQL a write transaction's BEGIN
// and its write lock are sent and answered, so Begin returns when any
// other server's write transaction ahead of this one has committed. A
// group commit calls it before it settles what goes into its batch, so
// that the reports that arrived while it waited go in too. On badger,
// whose writers are serialized before the transaction opens, it does
// nothing. A second call does nothing.
func (x *Txn) Begin() error {
	if err := x.t.begin(); err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	return nil
}

// Prefetch tells the transaction that it is about to read keys: on
// PostgreSQL they are read in one round trip and the later Get, Has and
// GetJSON of each is answered from memory (the transaction reads one
// snapshot, so the answer is the same). On badger it does nothing. Keys
// the transaction has written are not read again. It is a hint: reading
// a key it did not name costs what it did before.
func (x *Txn) Prefetch(keys [][]byte) error {
	if len(keys) > MaxPrefetchKeys {
		return fmt.Errorf("%w: %d keys to prefetch, at most %d", ErrBatchTooBig, len(keys), MaxPrefetchKeys)
	}
	if len(keys) == 0 {
		return nil
	}
	if err := x.t.prefetch(keys); err != nil {
		return fmt.Errorf("store: prefetch: %w", err)
	}
	return nil
}

// KeysUnder returns, for each prefix, up to n of the keys with that
// prefix, in ascending order (desc: descending, so n = 1 is the last key).
// On PostgreSQL every prefix is walked by one query; the transaction's own
// writes are seen, as by Scan.
func (x *Txn) KeysUnder(prefixes [][]byte, n int, desc bool) ([][][]byte, error) {
	if len(prefixes) > MaxKeysUnder {
		return nil, fmt.Errorf("%w: %d prefixes, at most %d", ErrBatchTooBig, len(prefixes), MaxKeysUnder)
	}
	if n <= 0 || len(prefixes) == 0 {
		return make([][][]byte, len(prefixes)), nil
	}
	out, err := x.t.keysUnder(prefixes, n, desc)
	if err != nil {
		return nil, fmt.Errorf("store: keys under prefixes: %w", err)
	}
	return out, nil
}

// ReadOnce runs fn in a read-only view that makes at most one read — one
// Get, Has or GetJSON, or one Scan or Reverse that stops within its first
// page (256 keys) — for the hot paths that read one thing: a single
// statement is its own snapshot, so on PostgreSQL it is sent without the
// BEGIN and ROLLBACK a View wraps it in. A second read fails with
// ErrSecondRead. On badger it is View.
func (d *DB) ReadOnce(fn func(*Txn) error) error {
	if sr, ok := d.eng.(singleReader); ok {
		return sr.viewOnce(func(t engineTxn) error { return fn(&Txn{t: t}) })
	}
	return d.View(fn)
}
