package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
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
}

// acquire takes a connection for a transaction opened with begin.
func acquire(ctx context.Context, pool *pgxpool.Pool, begin string) (*pgConnTxn, error) {
	c, err := pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: begin: %w", err)
	}
	return &pgConnTxn{ctx: ctx, conn: c, begin: begin}, nil
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

// release rolls back a transaction not committed and returns the
// connection to the pool; a connection whose rollback failed is closed
// rather than reused with a transaction open on it.
func (c *pgConnTxn) release() {
	if c.begun && !c.done {
		if _, err := c.conn.Exec(c.ctx, "ROLLBACK"); err != nil {
			_ = c.conn.Conn().Close(c.ctx)
		}
	}
	c.conn.Release()
}
