package store

import (
	"encoding/binary"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"
)

// prefixBridgeSeen holds the bridge's delivery records: one per child
// message whose sample was committed, written in the sample's own commit
// transaction (ingest.SubmitMarked), so that a message the local broker
// redelivers after a crash is recognized instead of committed again.
// Key: prefix, 8-byte big-endian record number (the bridge numbers its
// records in arrival order), 16-byte message hash; value: the sample seq.
const prefixBridgeSeen = "bd/"

// BridgeHashBytes is the length of a bridge message hash.
const BridgeHashBytes = 16

// BridgeSeen is one delivery record.
type BridgeSeen struct {
	N    int64
	Hash [BridgeHashBytes]byte
	Seq  int64
}

// KeyBridgeSeen is the key of delivery record n for a message hash.
func KeyBridgeSeen(n int64, hash [BridgeHashBytes]byte) []byte {
	return append(appendUint([]byte(prefixBridgeSeen), n), hash[:]...)
}

// BridgeSeenRecords returns the delivery records in number order, at most
// limit of them (the newest; older ones are deleted, as the bridge would
// have evicted them), refusing a malformed record as corrupt.
func (s *Store) BridgeSeenRecords(limit int) ([]BridgeSeen, error) {
	var out []BridgeSeen
	var stale [][]byte
	err := s.db.View(func(txn *badger.Txn) error {
		prefix := []byte(prefixBridgeSeen)
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			if item.ValueSize() != 8 {
				return fmt.Errorf("%w: bridge record %x has a %d-byte value", ErrCorrupt, item.Key(), item.ValueSize())
			}
			var r BridgeSeen
			err := itemValue(item, func(v []byte) error {
				var err error
				r, err = ParseBridgeSeen(item.Key(), v)
				return err
			})
			if err != nil {
				return err
			}
			out = append(out, r)
			if len(out) > limit {
				stale = append(stale, KeyBridgeSeen(out[0].N, out[0].Hash))
				out = out[1:]
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, s.DeleteKeys(stale)
}

// ParseBridgeSeen strictly decodes a delivery record's key and value.
func ParseBridgeSeen(key, val []byte) (BridgeSeen, error) {
	var r BridgeSeen
	pl := len(prefixBridgeSeen)
	if len(key) != pl+8+BridgeHashBytes || string(key[:pl]) != prefixBridgeSeen {
		return r, fmt.Errorf("%w: bridge record key %x", ErrCorrupt, key)
	}
	n, err := trailingUint(key[:pl+8], pl)
	if err != nil {
		return r, err
	}
	if len(val) != 8 {
		return r, fmt.Errorf("%w: bridge record %d has a %d-byte value", ErrCorrupt, n, len(val))
	}
	r.N, r.Seq = n, int64(binary.BigEndian.Uint64(val))
	copy(r.Hash[:], key[pl+8:])
	if r.Seq <= 0 || uint64(r.Seq) > 1<<62 {
		return r, fmt.Errorf("%w: bridge record %d has seq %d", ErrCorrupt, n, r.Seq)
	}
	return r, nil
}

// DeleteKeys deletes keys in one transaction, without fsync (a deletion
// lost to power loss is only done again).
func (s *Store) DeleteKeys(keys [][]byte) error {
	if len(keys) == 0 {
		return nil
	}
	wb := s.db.NewWriteBatch() // splits into transactions under badger's size limit
	defer wb.Cancel()
	for _, k := range keys {
		if err := wb.Delete(k); err != nil {
			return err
		}
	}
	return wb.Flush()
}
