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
// message (a pipeline), so a read-only view of one key costs two round
// trips (BEGIN with the read, then ROLLBACK) instead of three, and a
// transaction that sends nothing costs none.

// BEGIN statements of the two kinds of transaction.
const (
	pgBeginWrite = "BEGIN ISOLATION LEVEL SERIALIZABLE"
	pgBeginRead  = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
)

// The write lock. The ledger's writes nearly all write the same counters
// (the audit and history sequences, the statistics), so two overlapping
// write transactions from two servers would almost always conflict and
// one of them be aborted and run again; waiting for the other's commit
// instead costs the same order and none of the wasted work. So a write
// transaction starts by taking the table write_lock (migrations/0002) in
// EXCLUSIVE mode — which conflicts with nothing but itself — and
// PostgreSQL lets go of it at the COMMIT. LOCK TABLE takes no snapshot:
// the transaction's snapshot is taken by its first read, which comes
// after the lock, so it sees the previous writer's commit. The lock goes
// in the same message as the BEGIN and that first read: it costs no
// round trip.
//
// The lock only spares work; SERIALIZABLE still decides what may
// commit. So a writer that has waited pgWriteLockWait gives up the lock
// (its transaction, aborted by the timeout, has done nothing yet) and
// runs again without it (a long transaction elsewhere, or one that waits
// for this one); any conflict it then meets is retried as before. The
// table is the ledger's, in its schema: ledgers in other schemas of one
// database — the tests' throwaway schemas — never wait for each other.
const pgWriteLockWait = "250ms"

// pgWriteLock are the statements that take the write lock, after BEGIN:
// the wait bounded for the LOCK alone.
var pgWriteLock = []string{
	"SET LOCAL lock_timeout = '" + pgWriteLockWait + "'",
	"LOCK TABLE write_lock IN EXCLUSIVE MODE",
	"SET LOCAL lock_timeout TO DEFAULT",
}

// pgLockNotAvailable is the SQLSTATE of a lock wait that timed out.
const pgLockNotAvailable = "55P03"

// lockTimedOut reports a write lock not taken within pgWriteLockWait.
func lockTimedOut(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == pgLockNotAvailable
}

// errCommitRolledBack is a COMMIT that PostgreSQL answered with ROLLBACK:
// the transaction had failed.
var errCommitRolledBack = errors.New("the transaction was rolled back")

// pgConnTxn is the connection of one transaction and whether its BEGIN
// has been sent.
type pgConnTxn struct {
	ctx  context.Context
	conn *pgxpool.Conn
	// begin is the transaction's BEGIN statement; "" for a single-read
	// view, whose one statement runs on its own (begun: it was sent).
	begin string
	// lock: take the write lock after the BEGIN.
	lock  bool
	begun bool
	done  bool
	// queued are statements waiting to go with the next one (later).
	queued []pgStmt
}

// acquire takes a connection for a transaction opened with begin, which
// takes the write lock when lock is set.
func acquire(ctx context.Context, pool *pgxpool.Pool, begin string, lock bool) (*pgConnTxn, error) {
	c, err := pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: begin: %w", err)
	}
	return &pgConnTxn{ctx: ctx, conn: c, begin: begin, lock: lock}, nil
}

// batch returns a batch that starts with BEGIN if it has not been sent
// yet and with the statements waiting in later, and how many leading
// results are theirs.
func (c *pgConnTxn) batch() (*pgx.Batch, int) {
	b := &pgx.Batch{}
	skip := 0
	if !c.begun && c.begin != "" {
		b.Queue(c.begin)
		skip++
		if c.lock {
			for _, st := range pgWriteLock {
				b.Queue(st)
			}
			skip += len(pgWriteLock)
		}
	}
	for _, st := range c.queued {
		b.Queue(st.sql, st.args...)
		skip++
	}
	c.queued = c.queued[:0]
	return b, skip
}

// pgStmt is a statement waiting to go with the next one (later).
type pgStmt struct {
	sql  string
	args []any
}

// later queues a statement that returns no rows to be sent with the
// transaction's next statement, in the same round trip, ahead of it (a
// flush of pending writes rides with the scan or the COMMIT that needs
// it). Its error, if any, is that next statement's.
func (c *pgConnTxn) later(sql string, args ...any) {
	c.queued = append(c.queued, pgStmt{sql: sql, args: args})
}

// send sends b, reading the BEGIN's result first if it carries one.
func (c *pgConnTxn) send(b *pgx.Batch, skip int) (pgx.BatchResults, error) {
	if c.begin == "" { // a single-read view (DB.ReadOnce): no transaction to send it in
		if c.begun {
			return nil, ErrSecondRead
		}
		c.begun = true
	}
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

// commit commits the transaction (nothing to do when nothing was sent)
// in one round trip with the writes still queued; the write lock goes
// with the commit.
func (c *pgConnTxn) commit() error {
	if !c.begun && len(c.queued) == 0 {
		c.done = true
		return nil
	}
	b, skip := c.batch()
	b.Queue("COMMIT")
	br, err := c.send(b, skip)
	if err != nil { // a queued write failed: the transaction is aborted, release rolls it back
		return err
	}
	defer br.Close()
	tag, err := br.Exec()
	c.done = true
	if err != nil {
		return err
	}
	if tag.String() != "COMMIT" {
		return errCommitRolledBack
	}
	return nil
}

// release rolls back a transaction not committed and returns the
// connection to the pool; a connection whose rollback failed is closed
// (which ends its transaction and frees its locks) rather than reused.
func (c *pgConnTxn) release() {
	if c.begun && !c.done && c.begin != "" {
		if _, err := c.conn.Exec(c.ctx, "ROLLBACK"); err != nil {
			_ = c.conn.Conn().Close(c.ctx)
		}
	}
	c.conn.Release()
}
