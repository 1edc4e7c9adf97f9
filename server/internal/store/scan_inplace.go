package store

import (
	"fmt"

	badger "github.com/dgraph-io/badger/v4"
)

// ScanInPlace is Scan with values, read one at a time where they lie
// instead of prefetched: for long walks over many small values (a month
// of hourly counts per device in a report), where prefetching copies
// every value ahead of its use. k and v are valid only during fn.
func (x *Txn) ScanInPlace(p, after []byte, fn func(k, v []byte) (bool, error)) error {
	o := badger.DefaultIteratorOptions
	o.Prefix = p
	o.PrefetchValues = false
	it := x.t.NewIterator(o)
	defer it.Close()
	start := p
	if after != nil {
		start = append(append([]byte{}, after...), 0)
	}
	for it.Seek(start); it.ValidForPrefix(p); it.Next() {
		item := it.Item()
		var more bool
		var err error
		if verr := item.Value(func(v []byte) error {
			more, err = fn(item.Key(), v)
			return nil
		}); verr != nil {
			return fmt.Errorf("store: scan: %w", verr)
		}
		if err != nil || !more {
			return err
		}
	}
	return nil
}
