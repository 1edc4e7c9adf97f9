package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// A transaction's BEGIN is not a round trip of its own: it waits until
// the transaction's first statement and goes to the server in the same
// message (a pipeline of two), so a read-only view of one key costs two
// round trips (BEGIN with the read, then ROLLBACK) instead of three, and
// a transaction that sends nothing costs none.

// BEGIN statements of the two kinds of transaction.
const (
	pgBeginWrite = "BEGIN ISOLATION LEVEL SERIALIZABLE"
	pgBeginRead  = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
)

// pgWriteLockKey is the advisory lock a write transaction holds (a
// session lock, taken before its BEGIN and released after its COMMIT):
// the ledger's writes nearly all write the same counters (the audit and
// history sequences, the statistics), so two overlapping write
// transactions from two servers would almost always conflict and one of
// them be aborted and run again; waiting for the lock instead costs the
// same order and none of the wasted work. The number is arbitrary, fixed
// for every server on a database.
//
// The lock only spares work; SERIALIZABLE still decides what may
// commit. So a writer that has waited pgWriteLockWait goes ahead without
// it (a long transaction elsewhere, or one that waits for this one), and
// any conflict it then meets is retried as before.
//
// The key is the ledger's: a hash of the schema the ledger's table is in
// (current_schema(), from the connection's search_path), so that ledgers
// in other schemas of the same database — the tests' throwaway schemas —
// never wait for each other.
const (
	pgWriteLockKey  = "hashtext('tollgate-write:' || coalesce(current_schema(), ''))"
	pgWriteLockWait = "250ms"
)

// pgWriteLock takes the write lock in one round trip. It runs as one
// implicit transaction: when the wait runs out, the lock_timeout set
// for it is undone with it.
var pgWriteLock = fmt.Sprintf("SET lock_timeout = '%s'; SELECT pg_advisory_lock(%s); RESET lock_timeout",
	pgWriteLockWait, pgWriteLockKey)

// pgLockNotAvailable is the SQLSTATE of a lock wait that timed out.
const pgLockNotAvailable = "55P03"

// errCommitRolledBack is a COMMIT that PostgreSQL answered with ROLLBACK:
// the transaction had failed.
var errCommitRolledBack = errors.New("the transaction was rolled back")

// pgConnTxn is the connection of one transaction and whether its BEGIN
// has been sent.
type pgConnTxn struct {
	ctx   context.Context
	conn  *pgxpool.Conn
	begin string
	begun bool
	done  bool
	// locked: the connection holds the write lock.
	locked bool
}

// acquire takes a connection for a transaction opened with begin.
func acquire(ctx context.Context, pool *pgxpool.Pool, begin string) (*pgConnTxn, error) {
	c, err := pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: begin: %w", err)
	}
	x := &pgConnTxn{ctx: ctx, conn: c, begin: begin}
	if begin == pgBeginWrite {
		// Outside the transaction, so that its snapshot is taken once
		// the lock is held, after the previous writer's commit.
		_, err := c.Exec(ctx, pgWriteLock)
		var pe *pgconn.PgError
		switch {
		case err == nil:
			x.locked = true
		case errors.As(err, &pe) && pe.Code == pgLockNotAvailable: // go ahead without it
		default:
			c.Release()
			return nil, fmt.Errorf("store: begin: write lock: %w", err)
		}
	}
	return x, nil
}

// batch returns a batch that starts with BEGIN if it has not been sent
// yet, and how many leading results are the BEGIN's.
func (c *pgConnTxn) batch() (*pgx.Batch, int) {
	b := &pgx.Batch{}
	if c.begun {
		return b, 0
	}
	b.Queue(c.begin)
	return b, 1
}

// send sends b, reading the BEGIN's result first if it carries one.
func (c *pgConnTxn) send(b *pgx.Batch, skip int) (pgx.BatchResults, error) {
	br := c.conn.SendBatch(c.ctx, b)
	for range skip {
		if _, err := br.Exec(); err != nil {
			_ = br.Close()
			return nil, err
		}
	}
	c.begun = true
	return br, nil
}

// queryRow runs one statement that returns at most one row and scans it.
func (c *pgConnTxn) queryRow(sql string, args []any, dest ...any) error {
	b, skip := c.batch()
	b.Queue(sql, args...)
	br, err := c.send(b, skip)
	if err != nil {
		return err
	}
	err = br.QueryRow().Scan(dest...)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return err
}

// query runs one statement and calls row for each row it returns.
func (c *pgConnTxn) query(sql string, args []any, row func(pgx.Rows) error) error {
	b, skip := c.batch()
	b.Queue(sql, args...)
	br, err := c.send(b, skip)
	if err != nil {
		return err
	}
	rows, err := br.Query()
	if err == nil {
		for rows.Next() {
			if err = row(rows); err != nil {
				break
			}
		}
		rows.Close()
		if err == nil {
			err = rows.Err()
		}
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return err
}

// exec runs the statements queue adds (statements that return no rows)
// in one round trip.
func (c *pgConnTxn) exec(queue func(*pgx.Batch)) error {
	b, skip := c.batch()
	queue(b)
	br, err := c.send(b, skip)
	if err != nil {
		return err
	}
	return br.Close()
}

// commit commits the transaction (nothing to do when nothing was sent).
func (c *pgConnTxn) commit() error {
	if !c.begun {
		c.done = true
		return nil
	}
	tag, err := c.conn.Exec(c.ctx, "COMMIT")
	c.done = true
	if err != nil {
		return err
	}
	if tag.String() != "COMMIT" {
		return errCommitRolledBack
	}
	return nil
}

// release rolls back a transaction not committed, lets go of the write
// lock and returns the connection to the pool; a connection whose
// rollback or unlock failed is closed (which ends its transaction and
// frees its locks) rather than reused.
func (c *pgConnTxn) release() {
	ok := true
	if c.begun && !c.done {
		_, err := c.conn.Exec(c.ctx, "ROLLBACK")
		ok = err == nil
	}
	if ok && c.locked {
		var unlocked bool
		err := c.conn.QueryRow(c.ctx, "SELECT pg_advisory_unlock("+pgWriteLockKey+")").Scan(&unlocked)
		ok = err == nil && unlocked
	}
	if !ok {
		_ = c.conn.Conn().Close(c.ctx)
	}
	c.conn.Release()
}
