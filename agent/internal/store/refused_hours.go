package store

import (
	"encoding/binary"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"
)

// prefixRefusedHour is the prefix of the per-device, per-hour counts of
// refused samples. They are kept apart from the hourly buckets (which the
// ingest pipeline writes with the samples they count): refusals are
// persisted in batches by the agent's counter flush, their only writer.
const prefixRefusedHour = "rh/"

// PrefixRefusedHours is the prefix of one device's refused-per-hour counts.
func PrefixRefusedHours(deviceID string) []byte {
	return []byte(prefixRefusedHour + deviceID + "/")
}

// KeyRefusedHour is the key of one device's refused count of an hour (Unix
// hours).
func KeyRefusedHour(deviceID string, hour int64) []byte {
	return appendUint(PrefixRefusedHours(deviceID), hour)
}

// HourRefused is one device's count of refused samples in one hour.
type HourRefused struct {
	Hour    int64 // Unix hours
	Refused int64
}

// AddRefused adds n refused samples to a device's hour inside txn: the
// held count only grows.
func AddRefused(txn *badger.Txn, deviceID string, hour, n int64) error {
	if n <= 0 {
		return nil
	}
	k := KeyRefusedHour(deviceID, hour)
	held, err := getInt(txn, k)
	if err != nil {
		return err
	}
	return SetInt(txn, k, held+n)
}

// PruneRefused deletes inside txn a device's refused counts of hours
// before before.
func PruneRefused(txn *badger.Txn, deviceID string, before int64) error {
	p := PrefixRefusedHours(deviceID)
	var old [][]byte
	it := txn.NewIterator(badger.IteratorOptions{Prefix: p})
	for it.Rewind(); it.Valid(); it.Next() {
		k := it.Item().Key()
		h, err := trailingUint(k, len(p))
		if err != nil {
			it.Close()
			return err
		}
		if h >= before {
			break
		}
		old = append(old, it.Item().KeyCopy(nil))
	}
	it.Close()
	for _, k := range old {
		if err := txn.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// RefusedFrom returns at most n of a device's refused counts from the hour
// from (Unix hours) on, ascending by hour.
func (s *Store) RefusedFrom(deviceID string, from int64, n int) ([]HourRefused, error) {
	out := []HourRefused{}
	p := PrefixRefusedHours(deviceID)
	err := s.db.View(func(txn *badger.Txn) error {
		return seekFrom(txn, p, KeyRefusedHour(deviceID, max(from, 0)), func(key, val []byte) (bool, error) {
			h, err := trailingUint(key, len(p))
			if err != nil {
				return false, err
			}
			if len(val) != 8 {
				return false, fmt.Errorf("%w: refused count %q has %d bytes", ErrCorrupt, key, len(val))
			}
			out = append(out, HourRefused{Hour: h, Refused: int64(binary.BigEndian.Uint64(val))})
			return len(out) < n, nil
		})
	})
	return out, err
}
