package store

import (
	"bytes"
	"errors"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/pb"
	"github.com/dgraph-io/ristretto/v2/z"
)

// ErrBulkOrder reports a bulk load whose keys do not ascend.
var ErrBulkOrder = errors.New("store: bulk load keys must ascend without duplicates")

// bulkBufferBytes is how much a bulk load gathers before handing it to
// badger.
const bulkBufferBytes = 16 << 20

// BulkLoad replaces everything the store holds with the pairs next yields
// (ok false: done), in strictly ascending key order, written straight
// into the bottom level of badger's tree by its stream writer (nothing is
// compacted afterwards), or on PostgreSQL truncated and copied in with
// COPY. It is for building large fixtures (reports over
// millions of hourly counts) before anything else is written; the store
// is empty of everything else afterwards.
func (d *DB) BulkLoad(next func() (k, v []byte, ok bool)) error {
	return d.eng.bulkLoad(next)
}

func (e *badgerEngine) bulkLoad(next func() (k, v []byte, ok bool)) error {
	sw := e.db.NewStreamWriter()
	if err := sw.Prepare(); err != nil {
		return err
	}
	buf := z.NewBuffer(bulkBufferBytes, "store.BulkLoad")
	defer buf.Release()
	var last []byte
	for {
		k, v, ok := next()
		if !ok {
			break
		}
		if last != nil && bytes.Compare(k, last) <= 0 {
			sw.Cancel()
			return ErrBulkOrder
		}
		last = append(last[:0], k...)
		badger.KVToBuffer(&pb.KV{Key: k, Value: v, Version: 1}, buf)
		if buf.LenNoPadding() >= bulkBufferBytes {
			if err := sw.Write(buf); err != nil {
				return err
			}
			buf.Reset()
		}
	}
	if buf.LenNoPadding() > 0 {
		if err := sw.Write(buf); err != nil {
			return err
		}
	}
	return sw.Flush()
}
