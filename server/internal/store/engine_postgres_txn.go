package store

import (
	"bytes"
	"errors"
	"slices"

	"github.com/jackc/pgx/v5"
)

// pgTxn is one PostgreSQL transaction. Statements run on its connection
// one at a time, so a scan reads a page into memory and closes it before
// calling fn, which may then read and write in the same transaction.
//
// Within a transaction, a key read once is not read again (read below).
// Writes are not sent one statement each: they wait in pend (the last
// write of a key wins) and go to the server together — one upsert of
// every put and one delete of every deleted key, in one round trip —
// before the commit and before a scan, which must see them. A get or has
// of a pending key answers from pend. A sync's commit writes hundreds of
// keys, and a round trip per key was most of its time; under
// SERIALIZABLE it makes no difference when in the transaction a write
// reaches the server.
type pgTxn struct {
	c        *pgConnTxn
	readOnly bool
	// failed is the first statement error: PostgreSQL has aborted the
	// transaction, so it can only be rolled back (and, for a conflict,
	// run again).
	failed error
	writes int
	bytes  int
	pend   map[string]pgWrite
	// read remembers what each key read in the transaction held (up to
	// pgReadCacheKeys keys): the transaction reads one snapshot, so a
	// second read of a key it has not written since returns the same
	// thing, and a group commit of many syncs reads the same customer,
	// counters and statistics once per sync.
	read map[string]pgRead
}

// pgReadCacheKeys bounds how many keys a transaction remembers.
const pgReadCacheKeys = 16384

// pgRead is a remembered read: the value, or that the key was missing.
type pgRead struct {
	v     []byte
	found bool
}

// pgWrite is a write waiting for flush: a value, or a delete.
type pgWrite struct {
	v   []byte
	del bool
}

// fail records err as the transaction's first failure and returns it.
func (x *pgTxn) fail(err error) error {
	if x.failed == nil {
		x.failed = err
	}
	return err
}

func (x *pgTxn) get(k []byte) ([]byte, bool, error) {
	if w, ok := x.pend[string(k)]; ok {
		if w.del {
			return nil, false, nil
		}
		return bytes.Clone(w.v), true, nil
	}
	if r, ok := x.read[string(k)]; ok {
		return bytes.Clone(r.v), r.found, nil
	}
	var v []byte
	err := x.c.queryRow("SELECT v FROM kv WHERE k = $1", []any{k}, &v)
	found := true
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		v, found = nil, false
	case err != nil:
		return nil, false, x.fail(err)
	case v == nil:
		v = []byte{}
	}
	if len(x.read) < pgReadCacheKeys {
		if x.read == nil {
			x.read = make(map[string]pgRead, 32)
		}
		x.read[string(k)] = pgRead{v: v, found: found}
	}
	return bytes.Clone(v), found, nil
}

// has is a get: the value is small next to the round trip, and the
// answer is then remembered for a later get of the same key.
func (x *pgTxn) has(k []byte) (bool, error) {
	_, found, err := x.get(k)
	return found, err
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
	x.pending()[string(k)] = pgWrite{v: append([]byte{}, v...)}
	return nil
}

func (x *pgTxn) del(k []byte) error {
	if err := x.count(len(k)); err != nil {
		return err
	}
	x.pending()[string(k)] = pgWrite{del: true}
	return nil
}

// pending returns the pending writes, made on first use.
func (x *pgTxn) pending() map[string]pgWrite {
	if x.pend == nil {
		x.pend = make(map[string]pgWrite, 64)
	}
	return x.pend
}

// Statements of a flush: every pending put in one upsert, every pending
// delete in one delete.
const (
	pgUpsertMany = "INSERT INTO kv (k, v) SELECT * FROM unnest($1::bytea[], $2::bytea[]) ON CONFLICT (k) DO UPDATE SET v = excluded.v"
	pgDeleteMany = "DELETE FROM kv WHERE k = ANY($1::bytea[])"
)

// flush queues the pending writes — one delete of every deleted key and
// one upsert of every put, keys in ascending order (two transactions
// writing the same keys lock them in the same order, so they wait for
// each other instead of deadlocking) — to go to the server with the
// transaction's next statement (pgConnTxn.later): the scan that must see
// them, or the COMMIT. A write's error is that statement's.
func (x *pgTxn) flush() error {
	if x.failed != nil {
		return x.failed
	}
	if len(x.pend) == 0 {
		return nil
	}
	ks := make([]string, 0, len(x.pend))
	for k := range x.pend {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	var putK, putV, delK [][]byte
	for _, k := range ks {
		w := x.pend[k]
		// The transaction's own write is what a later read must see: it
		// is remembered as read, so that reading it back costs nothing.
		if _, ok := x.read[k]; ok || len(x.read) < pgReadCacheKeys {
			if x.read == nil {
				x.read = make(map[string]pgRead, len(x.pend))
			}
			x.read[k] = pgRead{v: w.v, found: !w.del}
		}
		if w.del {
			delK = append(delK, []byte(k))
		} else {
			putK, putV = append(putK, []byte(k)), append(putV, w.v)
		}
	}
	clear(x.pend)
	if len(delK) > 0 {
		x.c.later(pgDeleteMany, delK)
	}
	if len(putK) > 0 {
		x.c.later(pgUpsertMany, putK, putV)
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
	if err := x.flush(); err != nil { // the scan must see the transaction's own writes
		return nil, err
	}
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
	out := make([]pgRow, 0, 16)
	err := x.c.query("SELECT "+cols+" FROM kv WHERE "+where+" ORDER BY k "+order+" LIMIT $2", args, func(rows pgx.Rows) error {
		var r pgRow
		if err := rows.Scan(&r.k, &r.v); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
	if err != nil {
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
