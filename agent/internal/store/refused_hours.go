package store

import (
	"encoding/binary"
	"errors"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/tollgate-iot/tollgate/agent/internal/limits"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// prefixRefusedHour is the prefix of the per-device, per-hour counts of
// refused samples. They are kept apart from the hourly buckets (which the
// ingest pipeline writes with the samples they count): refusals are
// persisted in batches by the agent's counter flush, their only writer.
const prefixRefusedHour = "rh/"

// prefixRefusedBy is the prefix of the per-device, per-hour refusals by
// reason: a JSON object {reason: count} with at most
// limits.MaxRefusedByReasons reasons, written with the hour's refused
// count in the same transaction (so the reasons never add up past it).
const prefixRefusedBy = "rb/"

// PrefixRefusedHours is the prefix of one device's refused-per-hour counts.
func PrefixRefusedHours(deviceID string) []byte {
	return []byte(prefixRefusedHour + deviceID + "/")
}

// KeyRefusedHour is the key of one device's refused count of an hour (Unix
// hours).
func KeyRefusedHour(deviceID string, hour int64) []byte {
	return appendUint(PrefixRefusedHours(deviceID), hour)
}

// PrefixRefusedBy is the prefix of one device's refusals by reason per
// hour.
func PrefixRefusedBy(deviceID string) []byte {
	return []byte(prefixRefusedBy + deviceID + "/")
}

// KeyRefusedBy is the key of one device's refusals by reason of an hour
// (Unix hours).
func KeyRefusedBy(deviceID string, hour int64) []byte {
	return appendUint(PrefixRefusedBy(deviceID), hour)
}

// HourRefused is one device's count of refused samples in one hour.
type HourRefused struct {
	Hour    int64 // Unix hours
	Refused int64
	// By splits Refused by reason (nil: no reason known, as in stores
	// of agents older than it).
	By map[string]int64
}

// AddRefused adds n refused samples to a device's hour inside txn, by of
// them by reason: the held counts only grow. The first
// limits.MaxRefusedByReasons reasons of an hour are kept by reason; the
// refusals of any later one count in the hour's total only, so that a
// reason once reported is never dropped from a later report of the hour
// (the server refuses a count that goes down).
func AddRefused(txn *badger.Txn, deviceID string, hour, n int64, by map[string]int64) error {
	if n <= 0 {
		return nil
	}
	k := KeyRefusedHour(deviceID, hour)
	held, err := getInt(txn, k)
	if err != nil {
		return err
	}
	if err := SetInt(txn, k, held+n); err != nil {
		return err
	}
	if len(by) == 0 {
		return nil
	}
	kb := KeyRefusedBy(deviceID, hour)
	heldBy := map[string]int64{}
	if err := getJSON(txn, kb, &heldBy); err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	// In a fixed order, so that which reasons are kept does not depend on
	// map iteration.
	for _, r := range wire.RefusalReasons {
		v := by[r]
		if v <= 0 {
			continue
		}
		if _, ok := heldBy[r]; ok || len(heldBy) < limits.MaxRefusedByReasons {
			heldBy[r] += v
		}
	}
	return SetJSON(txn, kb, heldBy)
}

// PruneRefused deletes inside txn a device's refused counts, and their
// reasons, of hours before before.
func PruneRefused(txn *badger.Txn, deviceID string, before int64) error {
	if err := pruneHours(txn, PrefixRefusedHours(deviceID), before); err != nil {
		return err
	}
	return pruneHours(txn, PrefixRefusedBy(deviceID), before)
}

// pruneHours deletes inside txn the keys of prefix whose hour is before
// before.
func pruneHours(txn *badger.Txn, p []byte, before int64) error {
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
			hr := HourRefused{Hour: h, Refused: int64(binary.BigEndian.Uint64(val))}
			if err := getJSON(txn, KeyRefusedBy(deviceID, h), &hr.By); err != nil && !errors.Is(err, ErrNotFound) {
				return false, err
			}
			out = append(out, hr)
			return len(out) < n, nil
		})
	})
	return out, err
}
