package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5"
)

// loader is an engine that can load a dump.
type loader interface {
	// load writes every record of dr into the empty store, or nothing.
	load(ctx context.Context, dr *DumpReader) error
}

// Load fills an empty store with the dump r holds and returns what it
// loaded. It refuses a store that holds any key (ErrTargetNotEmpty), and
// a dump that is truncated, fails its checksum, is of an unknown version
// or holds a record over the limits, each with its named error — and then
// leaves the store empty. A dump is only known to be whole at its
// trailer, after every record has been read, so each engine applies the
// records provisionally until then:
//
//   - PostgreSQL copies them with COPY inside one transaction that first
//     locks the table and checks it is empty; it commits only after the
//     trailer has verified, so a failure (or a crash, or a killed process)
//     rolls everything back.
//   - badger has no transaction of unbounded size, so the records go in
//     through a write batch (bounded transactions) and, on any failure,
//     the store is wiped back to empty (DropAll). A crash half way would
//     leave a half-loaded directory, so tollgate-server restore loads into
//     a fresh directory beside the real one and renames it into place
//     only once Load has returned and the store is synced and closed.
func (d *DB) Load(ctx context.Context, r io.Reader) (DumpInfo, error) {
	dr, err := NewDumpReader(r)
	if err != nil {
		return DumpInfo{}, err
	}
	empty, err := d.Empty()
	if err != nil {
		return DumpInfo{}, fmt.Errorf("store: load: %w", err)
	}
	if !empty {
		return DumpInfo{}, ErrTargetNotEmpty
	}
	l, ok := d.eng.(loader)
	if !ok {
		return DumpInfo{}, fmt.Errorf("store: load: the %s engine cannot load a dump", d.Engine())
	}
	if err := l.load(ctx, dr); err != nil {
		return DumpInfo{}, err
	}
	return dr.Info(), nil
}

func (e *badgerEngine) load(ctx context.Context, dr *DumpReader) error {
	wb := e.db.NewWriteBatch()
	err := func() error {
		for n := 0; ; n++ {
			k, v, err := dr.Next()
			if errors.Is(err, io.EOF) {
				return wb.Flush()
			}
			if err != nil {
				return err
			}
			if n%dumpCheckEvery == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			// The batch keeps the slices until it commits; the reader
			// reuses its buffers.
			if err := wb.Set(bytes.Clone(k), bytes.Clone(v)); err != nil {
				return fmt.Errorf("store: load: %w", err)
			}
		}
	}()
	if err == nil {
		return nil
	}
	wb.Cancel()
	if werr := e.db.DropAll(); werr != nil {
		return fmt.Errorf("%w (and wiping the half-loaded store failed: %v; delete the directory)", err, werr)
	}
	return err
}

func (e *postgresEngine) load(ctx context.Context, dr *DumpReader) error {
	return pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
		// EXCLUSIVE lets readers in but no other writer until the commit,
		// so nothing lands between the emptiness check and the copy.
		if _, err := tx.Exec(ctx, "LOCK TABLE kv IN EXCLUSIVE MODE"); err != nil {
			return fmt.Errorf("store: load: lock: %w", err)
		}
		var nonEmpty bool
		if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM kv)").Scan(&nonEmpty); err != nil {
			return fmt.Errorf("store: load: %w", err)
		}
		if nonEmpty {
			return ErrTargetNotEmpty
		}
		src := &dumpCopySource{ctx: ctx, dr: dr}
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"kv"}, []string{"k", "v"}, src)
		if src.err != nil {
			return src.err
		}
		if err != nil {
			return fmt.Errorf("store: load: copy: %w", err)
		}
		return nil
	})
}

// dumpCopySource feeds COPY from a dump; an error of the dump ends the
// copy with that error, which rolls the transaction back.
type dumpCopySource struct {
	ctx context.Context
	dr  *DumpReader
	n   int
	row [2]any
	err error
}

func (s *dumpCopySource) Next() bool {
	if s.n++; s.n%dumpCheckEvery == 0 {
		if s.err = s.ctx.Err(); s.err != nil {
			return false
		}
	}
	k, v, err := s.dr.Next()
	if errors.Is(err, io.EOF) {
		return false
	}
	if err != nil {
		s.err = err
		return false
	}
	if v == nil {
		v = []byte{} // the column is NOT NULL
	}
	// pgx encodes the row before it asks for the next one, so the
	// reader's reused buffers may be passed as they are.
	s.row = [2]any{k, v}
	return true
}

func (s *dumpCopySource) Values() ([]any, error) { return s.row[:], nil }

func (s *dumpCopySource) Err() error { return s.err }
