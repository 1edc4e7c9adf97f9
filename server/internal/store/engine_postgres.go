package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Limits of the PostgreSQL engine.
const (
	// PostgresMaxAttempts bounds how often Update runs a transaction that
	// keeps losing serialization conflicts (SQLSTATE 40001) or deadlocks
	// (40P01) before it returns the conflict to the caller.
	PostgresMaxAttempts = 12
	// pgBackoffBase and pgBackoffMax bound the wait before a retry: a
	// random duration up to base·2^attempt, capped (full jitter, so that
	// the transactions that collided do not collide again in step).
	pgBackoffBase = 2 * time.Millisecond
	pgBackoffMax  = 250 * time.Millisecond
	// PostgresMaxTxnWrites and PostgresMaxTxnBytes bound one transaction's
	// writes (puts and deletes; bytes of keys and values). Over them the
	// write fails with ErrTxnTooBig, as badger's batch limit does, so the
	// callers that split a large write (a sync report with many
	// deductions) split it on both engines.
	PostgresMaxTxnWrites = 100_000
	PostgresMaxTxnBytes  = 64 << 20
	// pgScanPage is how many rows one scan query fetches: a long scan
	// streams page by page instead of holding every row.
	pgScanPage = 256
)

// PostgreSQL error codes the engine retries.
const (
	pgSerializationFailure = "40001"
	pgDeadlockDetected     = "40P01"
)

// postgresEngine is the store in one PostgreSQL table (migrations/).
type postgresEngine struct {
	pool *pgxpool.Pool
	log  *slog.Logger
	// retries is called before each transaction run again after a
	// conflict (tests); retried counts them.
	retries func()
	retried atomic.Uint64
}

// OpenPostgres connects to the PostgreSQL database at dsn (a postgres://
// URL; pool settings such as pool_max_conns may ride in it), applies the
// schema migrations it lacks and returns the store over it. Only
// o.Logger and o.Unsynced apply.
func OpenPostgres(ctx context.Context, dsn string, o Options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("store: postgres URL %s: %w", RedactURL(dsn), err)
	}
	if o.Unsynced {
		cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "off"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: postgres %s: %w", RedactURL(dsn), err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: postgres %s: %w", RedactURL(dsn), err)
	}
	if err := migratePostgres(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	pe := &postgresEngine{pool: pool, log: o.Logger}
	return &DB{eng: pe, retries: &pe.retried}, nil
}

// RedactURL returns u with its password replaced, for messages and logs.
func RedactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparsable URL)"
	}
	return p.Redacted()
}

func (e *postgresEngine) close() error { e.pool.Close(); return nil }

// sync has nothing to do: a commit returns once PostgreSQL has it on disk
// (unless Unsynced turned synchronous_commit off; then the WAL writer
// flushes it within a fraction of a second).
func (e *postgresEngine) sync() error { return nil }

// update runs fn in a SERIALIZABLE transaction: PostgreSQL aborts one of
// two transactions whose reads and writes could not have run one after
// the other, and update runs fn again from the start, up to
// PostgresMaxAttempts times with a jittered backoff. fn must therefore be
// re-runnable (the ledger's are: they touch only the transaction).
func (e *postgresEngine) update(fn func(engineTxn) error) error {
	lock := true
	for attempt := 1; ; attempt++ {
		err := e.try(fn, lock)
		if lock && lockTimedOut(err) { // waited long enough: run again at once, without the lock
			lock = false
			attempt--
			continue
		}
		if err == nil || !retryable(err) || attempt == PostgresMaxAttempts {
			return err
		}
		e.retried.Add(1)
		if e.retries != nil {
			e.retries()
		}
		time.Sleep(rand.N(min(pgBackoffMax, pgBackoffBase<<attempt)))
	}
}

// try runs fn once in a new transaction and commits it.
func (e *postgresEngine) try(fn func(engineTxn) error, lock bool) error {
	c, err := acquire(context.Background(), e.pool, pgBeginWrite, lock)
	if err != nil {
		return err
	}
	// Rolled back on every way out but a commit, a panic in fn included:
	// a transaction left open would hold its connection and row locks.
	defer c.release()
	x := &pgTxn{c: c}
	if err := fn(x); err != nil {
		if x.failed != nil && (retryable(x.failed) || lockTimedOut(x.failed)) {
			return x.failed // fn may have wrapped the conflict beyond recognition
		}
		return err
	}
	if err := x.flush(); err != nil { // also fn going on after a failed statement: PostgreSQL has aborted the transaction
		return err
	}
	if err := c.commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// view runs fn in a REPEATABLE READ, READ ONLY transaction: one snapshot
// of every commit before it, never blocked and never aborted, and never
// the cause of a writer's serialization failure (a SERIALIZABLE READ
// ONLY DEFERRABLE snapshot would be free of the rare read-only anomaly
// too, but may wait for concurrent writers to finish before it starts —
// too slow for the API's reads; the ledger's invariants are kept by its
// writes, which are SERIALIZABLE).
func (e *postgresEngine) view(fn func(engineTxn) error) error { return e.read(fn, pgBeginRead) }

// viewOnce runs fn, which makes at most one read, as that one statement
// outside a transaction (DB.ReadOnce): a statement reads one snapshot of
// its own, and the BEGIN and ROLLBACK of a view would be two more
// statements and a round trip.
func (e *postgresEngine) viewOnce(fn func(engineTxn) error) error { return e.read(fn, "") }

// read runs fn read-only in a transaction opened with begin ("": none).
func (e *postgresEngine) read(fn func(engineTxn) error, begin string) error {
	c, err := acquire(context.Background(), e.pool, begin, false)
	if err != nil {
		return err
	}
	defer c.release()
	x := &pgTxn{c: c, readOnly: true}
	if err := fn(x); err != nil {
		return err
	}
	return x.failed
}

// retryable reports a serialization failure or a deadlock.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == pgSerializationFailure || pe.Code == pgDeadlockDetected)
}

// bulkLoad truncates the table and copies the pairs in with COPY, in one
// transaction.
func (e *postgresEngine) bulkLoad(next func() (k, v []byte, ok bool)) error {
	ctx := context.Background()
	return pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "TRUNCATE kv"); err != nil {
			return err
		}
		src := &copySource{next: next}
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"kv"}, []string{"k", "v"}, src)
		if src.err != nil {
			return src.err
		}
		return err
	})
}

// copySource feeds COPY from a bulk load's pairs, refusing keys that do
// not ascend.
type copySource struct {
	next func() (k, v []byte, ok bool)
	last []byte
	row  []any
	err  error
}

func (s *copySource) Next() bool {
	k, v, ok := s.next()
	if !ok {
		return false
	}
	if s.last != nil && string(k) <= string(s.last) {
		s.err = ErrBulkOrder
		return false
	}
	s.last = append(s.last[:0], k...)
	if v == nil {
		v = []byte{}
	}
	s.row = []any{k, v}
	return true
}

func (s *copySource) Values() ([]any, error) { return s.row, nil }

func (s *copySource) Err() error { return s.err }
