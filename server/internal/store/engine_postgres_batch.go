package store

import (
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Statements of the batched reads (batchread.go): the values of a set of
// keys, and the first (or last) n keys under each of a set of prefixes —
// one index range scan per prefix, all in one statement.
const (
	pgPrefetch  = "SELECT k, v FROM kv WHERE k = ANY($1::bytea[])"
	pgKeysUnder = "SELECT r.i, x.k FROM unnest($1::bytea[], $2::bytea[]) WITH ORDINALITY AS r(lo, hi, i) " +
		"CROSS JOIN LATERAL (SELECT k FROM kv WHERE k >= r.lo AND k < r.hi ORDER BY k %s LIMIT $3) AS x"
)

var (
	pgKeysUnderAsc  = fmt.Sprintf(pgKeysUnder, "ASC")
	pgKeysUnderDesc = fmt.Sprintf(pgKeysUnder, "DESC")
)

// begin sends the BEGIN (with the write lock, for a writer) and the
// statements waiting to go with it, if they have not gone yet.
func (x *pgTxn) begin() error {
	if x.failed != nil {
		return x.failed
	}
	if x.c.begun || x.c.begin == "" {
		return nil
	}
	b, skip := x.c.batch()
	br, err := x.c.send(b, skip)
	if err == nil {
		err = br.Close()
	}
	if err != nil {
		return x.fail(err)
	}
	return nil
}

func (x *pgTxn) prefetch(keys [][]byte) error {
	if x.failed != nil {
		return x.failed
	}
	room := pgReadCacheKeys - len(x.read)
	want := make([][]byte, 0, min(len(keys), max(room, 0)))
	seen := make(map[string]struct{}, len(keys))
	for _, k := range keys {
		if len(want) >= room {
			break // the cache is full: the rest are read when asked for
		}
		s := string(k)
		if _, ok := x.pend[s]; ok {
			continue
		}
		if _, ok := x.read[s]; ok {
			continue
		}
		if _, ok := seen[s]; ok {
			continue
		}
		seen[s] = struct{}{}
		want = append(want, k)
	}
	if len(want) == 0 {
		return nil
	}
	got := make(map[string][]byte, len(want))
	err := x.c.query(pgPrefetch, []any{want}, func(rows pgx.Rows) error {
		var k, v []byte
		if err := rows.Scan(&k, &v); err != nil {
			return err
		}
		if v == nil {
			v = []byte{}
		}
		got[string(k)] = v
		return nil
	})
	if err != nil {
		return x.fail(err)
	}
	if x.read == nil {
		x.read = make(map[string]pgRead, len(want))
	}
	for _, k := range want {
		v, found := got[string(k)]
		x.read[string(k)] = pgRead{v: v, found: found}
	}
	return nil
}

func (x *pgTxn) keysUnder(prefixes [][]byte, n int, desc bool) ([][][]byte, error) {
	if err := x.flush(); err != nil { // the walk must see the transaction's own writes
		return nil, err
	}
	out := make([][][]byte, len(prefixes))
	los, his := make([][]byte, len(prefixes)), make([][]byte, len(prefixes))
	for i, p := range prefixes {
		los[i], his[i] = p, prefixEnd(p)
		if his[i] == nil { // no key above the prefix (empty, or all 0xff): walk it alone
			if err := x.keysUnderOne(p, n, desc, &out[i]); err != nil {
				return nil, err
			}
			los[i], his[i] = []byte{1}, []byte{0} // an empty range in its place
		}
	}
	sql := pgKeysUnderAsc
	if desc {
		sql = pgKeysUnderDesc
	}
	err := x.c.query(sql, []any{los, his, n}, func(rows pgx.Rows) error {
		var i int64
		var k []byte
		if err := rows.Scan(&i, &k); err != nil {
			return err
		}
		out[i-1] = append(out[i-1], k)
		return nil
	})
	if err != nil {
		return nil, x.fail(err)
	}
	return out, nil
}

// keysUnderOne walks one prefix with no upper bound.
func (x *pgTxn) keysUnderOne(p []byte, n int, desc bool, out *[][]byte) error {
	keep := func(k, _ []byte) (bool, error) {
		*out = append(*out, append([]byte{}, k...))
		return len(*out) < n, nil
	}
	if desc {
		return x.reverse(p, nil, keep)
	}
	return x.scan(p, p, false, false, keep)
}
