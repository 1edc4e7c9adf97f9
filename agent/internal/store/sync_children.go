package store

import (
	"sort"

	badger "github.com/dgraph-io/badger/v4"
)

// prefixSyncChildAcked is the prefix of the highest deduction seq of each
// gateway child that the server acknowledged (a sync answer's children).
const prefixSyncChildAcked = "yc/"

// KeySyncChildAcked is the key of a gateway child's acknowledged seq: its
// records at or below it count as synced.
func KeySyncChildAcked(deviceID string) []byte { return []byte(prefixSyncChildAcked + deviceID) }

// ChildAcked returns, per device of ids, its acknowledged seq (0: none).
func (s *Store) ChildAcked(ids []string) (map[string]int64, error) {
	out := make(map[string]int64, len(ids))
	err := s.db.View(func(txn *badger.Txn) error {
		for _, id := range ids {
			v, err := getInt(txn, KeySyncChildAcked(id))
			if err != nil {
				return err
			}
			out[id] = v
		}
		return nil
	})
	return out, err
}

// SaveChildAcked raises the acknowledged seqs of gateway children (never
// lowers one) in one transaction and fsyncs it. A crash before it only
// sends the records again, which the server acknowledges as held.
func (s *Store) SaveChildAcked(acked map[string]int64) error {
	if len(acked) == 0 {
		return nil
	}
	ids := make([]string, 0, len(acked))
	for id := range acked {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	err := s.db.Update(func(txn *badger.Txn) error {
		for _, id := range ids {
			held, err := getInt(txn, KeySyncChildAcked(id))
			if err != nil {
				return err
			}
			if acked[id] > held {
				if err := SetInt(txn, KeySyncChildAcked(id), acked[id]); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return s.Flush()
}
