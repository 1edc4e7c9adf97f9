package store

import (
	"bytes"
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
)

// pgTxn is one PostgreSQL transaction. Statements run on its connection
// one at a time, so a scan reads a page into memory and closes it before
// calling fn, which may then read and write in the same transaction.
type pgTxn struct {
	ctx      context.Context
	tx       pgx.Tx
	readOnly bool
	// failed is the first statement error: PostgreSQL has aborted the
	// transaction, so it can only be rolled back (and, for a conflict,
	// run again).
	failed error
	writes int
	bytes  int
}

// fail records err as the transaction's first failure and returns it.
func (x *pgTxn) fail(err error) error {
	if x.failed == nil {
		x.failed = err
	}
	return err
}

func (x *pgTxn) get(k []byte) ([]byte, bool, error) {
	var v []byte
	err := x.tx.QueryRow(x.ctx, "SELECT v FROM kv WHERE k = $1", k).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, x.fail(err)
	}
	if v == nil {
		v = []byte{}
	}
	return v, true, nil
}

func (x *pgTxn) has(k []byte) (bool, error) {
	var one int
	err := x.tx.QueryRow(x.ctx, "SELECT 1 FROM kv WHERE k = $1", k).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, x.fail(err)
	}
	return true, nil
}

// count adds one write of n bytes to the transaction's size, refusing it
// over the limits.
func (x *pgTxn) count(n int) error {
	if x.writes+1 > PostgresMaxTxnWrites || x.bytes+n > PostgresMaxTxnBytes {
		return ErrTxnTooBig
	}
	x.writes++
	x.bytes += n
	return nil
}

func (x *pgTxn) put(k, v []byte) error {
	if err := x.count(len(k) + len(v)); err != nil {
		return err
	}
	if v == nil {
		v = []byte{}
	}
	_, err := x.tx.Exec(x.ctx, "INSERT INTO kv (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = excluded.v", k, v)
	if err != nil {
		return x.fail(err)
	}
	return nil
}

func (x *pgTxn) del(k []byte) error {
	if err := x.count(len(k)); err != nil {
		return err
	}
	if _, err := x.tx.Exec(x.ctx, "DELETE FROM kv WHERE k = $1", k); err != nil {
		return x.fail(err)
	}
	return nil
}

// prefixEnd returns the least key above every key with prefix p (nil when
// there is none: p empty or all 0xff).
func prefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// pgRow is one fetched pair.
type pgRow struct{ k, v []byte }

// page fetches up to pgScanPage rows with lo <= k < hi (hi nil: no upper
// bound), ascending or descending.
func (x *pgTxn) page(lo, hi []byte, withValues, desc bool) ([]pgRow, error) {
	cols, order := "k, v", "ASC"
	if !withValues {
		cols = "k, NULL::bytea"
	}
	if desc {
		order = "DESC"
	}
	args := []any{lo, pgScanPage}
	where := "k >= $1"
	if hi != nil {
		where += " AND k < $3"
		args = append(args, hi)
	}
	rows, err := x.tx.Query(x.ctx, "SELECT "+cols+" FROM kv WHERE "+where+" ORDER BY k "+order+" LIMIT $2", args...)
	if err != nil {
		return nil, x.fail(err)
	}
	defer rows.Close()
	out := make([]pgRow, 0, 16)
	for rows.Next() {
		var r pgRow
		if err := rows.Scan(&r.k, &r.v); err != nil {
			return nil, x.fail(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, x.fail(err)
	}
	return out, nil
}

func (x *pgTxn) scan(p, start []byte, withValues, _ bool, fn func(k, v []byte) (bool, error)) error {
	lo := start
	if bytes.Compare(lo, p) < 0 {
		lo = p
	}
	if lo == nil {
		lo = []byte{}
	}
	hi := prefixEnd(p)
	for {
		rows, err := x.page(lo, hi, withValues, false)
		if err != nil {
			return err
		}
		for _, r := range rows {
			if withValues && r.v == nil {
				r.v = []byte{}
			}
			if more, err := fn(r.k, r.v); err != nil || !more {
				return err
			}
		}
		if len(rows) < pgScanPage {
			return nil
		}
		lo = append(rows[len(rows)-1].k, 0)
	}
}

func (x *pgTxn) reverse(p, before []byte, fn func(k, v []byte) (bool, error)) error {
	lo := p
	if lo == nil {
		lo = []byte{}
	}
	hi := prefixEnd(p)
	if before != nil && (hi == nil || bytes.Compare(before, hi) < 0) {
		hi = before
	}
	for {
		if hi != nil && bytes.Compare(hi, lo) <= 0 {
			return nil
		}
		rows, err := x.page(lo, hi, true, true)
		if err != nil {
			return err
		}
		for _, r := range rows {
			if r.v == nil {
				r.v = []byte{}
			}
			if more, err := fn(r.k, r.v); err != nil || !more {
				return err
			}
		}
		if len(rows) < pgScanPage {
			return nil
		}
		hi = rows[len(rows)-1].k
	}
}
