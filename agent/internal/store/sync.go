package store

import (
	"fmt"
	"sort"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/tollgate-iot/tollgate/agent/internal/limits"
)

// prefixSyncHour is the prefix of the per-device hour from which hourly
// counts are still to be reported to the server.
const prefixSyncHour = "h/"

// KeySyncAcked is the key of the highest deduction seq of the agent's own
// device the server acknowledged (its last answer's acked_seq). Records
// stay in the store; those at or below it count as synced.
func KeySyncAcked() []byte { return []byte(prefixMeta + "sync_acked") }

// KeyLastSync is the key of the effective time (Unix seconds) of the last
// successful sync.
func KeyLastSync() []byte { return []byte(prefixMeta + "last_sync") }

// KeySyncHour is the key of the Unix hour from which a device's hourly
// counts are still to be reported (the last hour reported is reported
// again: it may still have grown).
func KeySyncHour(deviceID string) []byte { return []byte(prefixSyncHour + deviceID) }

// HourCount is one device's bucket of one hour (Unix hours).
type HourCount struct {
	DeviceID string
	Hour     int64
	Bucket
}

// SyncProgress is what one acknowledged sync report moves forward.
type SyncProgress struct {
	// AckedSeq is the server's acked_seq.
	AckedSeq int64
	// Hours maps a device to the last hour (Unix hours) whose count the
	// server acknowledged; counts from it on are reported next time.
	Hours map[string]int64
	// At is the effective time of the sync, Unix seconds.
	At int64
}

// DeductionsAfter returns at most n of a device's deduction records with a
// seq above after, ascending.
func (s *Store) DeductionsAfter(deviceID string, after int64, n int) ([]Deduction, error) {
	out := []Deduction{}
	err := s.db.View(func(txn *badger.Txn) error {
		return seekFrom(txn, PrefixDeductions(deviceID), KeyDeduction(deviceID, after+1), func(key, val []byte) (bool, error) {
			var d Deduction
			if err := decodeJSON(key, val, &d); err != nil {
				return false, err
			}
			out = append(out, d)
			return len(out) < n, nil
		})
	})
	return out, err
}

// CountsFrom returns at most n hourly buckets of a device from the hour
// from (Unix hours) on, ascending by hour.
func (s *Store) CountsFrom(deviceID string, from int64, n int) ([]HourCount, error) {
	out := []HourCount{}
	err := s.db.View(func(txn *badger.Txn) error {
		return seekFrom(txn, PrefixBuckets(deviceID), KeyBucket(deviceID, max(from, 0)), func(key, val []byte) (bool, error) {
			h, err := BucketHour(key, deviceID)
			if err != nil {
				return false, err
			}
			c := HourCount{DeviceID: deviceID, Hour: h}
			if err := decodeJSON(key, val, &c.Bucket); err != nil {
				return false, err
			}
			out = append(out, c)
			return len(out) < n, nil
		})
	})
	return out, err
}

// SyncHours returns, per device of ids, the hour from which its counts are
// still to be reported (0: every hour held).
func (s *Store) SyncHours(ids []string) (map[string]int64, error) {
	out := make(map[string]int64, len(ids))
	err := s.db.View(func(txn *badger.Txn) error {
		for _, id := range ids {
			h, err := getInt(txn, KeySyncHour(id))
			if err != nil {
				return err
			}
			out[id] = h
		}
		return nil
	})
	return out, err
}

// SaveSync records an acknowledged sync report in one transaction and
// fsyncs it: a crash afterwards never reports less than the server holds
// as unsent, and never moves the marks back.
func (s *Store) SaveSync(p SyncProgress) error {
	devs := make([]string, 0, len(p.Hours))
	for d := range p.Hours {
		devs = append(devs, d)
	}
	sort.Strings(devs)
	err := s.db.Update(func(txn *badger.Txn) error {
		if err := SetInt(txn, KeySyncAcked(), p.AckedSeq); err != nil {
			return err
		}
		for _, d := range devs {
			held, err := getInt(txn, KeySyncHour(d))
			if err != nil {
				return err
			}
			if p.Hours[d] > held {
				if err := SetInt(txn, KeySyncHour(d), p.Hours[d]); err != nil {
					return err
				}
			}
		}
		return SetInt(txn, KeyLastSync(), p.At)
	})
	if err != nil {
		return err
	}
	return s.Flush()
}

// seekFrom iterates the keys under prefix from start on until fn returns
// false.
func seekFrom(txn *badger.Txn, prefix, start []byte, fn func(key, val []byte) (bool, error)) error {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 64})
	defer it.Close()
	for it.Seek(start); it.Valid(); it.Next() {
		item := it.Item()
		if item.ValueSize() > limits.MaxStoredRecordBytes {
			return fmt.Errorf("%w: record %q too large", ErrCorrupt, item.Key())
		}
		more := true
		err := itemValue(item, func(val []byte) error {
			var err error
			more, err = fn(item.Key(), val)
			return err
		})
		if err != nil || !more {
			return err
		}
	}
	return nil
}
