package store

import (
	"encoding/binary"
	"errors"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/tollgate-iot/tollgate/agent/internal/limits"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// ErrExists reports an init over an already initialized data directory.
var ErrExists = errors.New("data directory already initialized")

// ErrRollback reports a token older than one already seen for its license.
var ErrRollback = token.ErrRollback

// ErrSeqOrder reports a deduction whose sequence is not above the last one:
// writing it would reuse a sequence number.
var ErrSeqOrder = errors.New("deduction sequence is not above the last one")

// Identity is who this agent is.
type Identity struct {
	DeviceID  string `json:"device_id"`
	Model     string `json:"model"`
	PublicKey string `json:"public_key"`
	CreatedAt int64  `json:"created_at"`
	Server    string `json:"server,omitempty"`
}

// ClockState is the persisted part of the effective clock, Unix seconds.
type ClockState struct {
	HighWater  int64 `json:"high_water"`
	ServerTime int64 `json:"server_time"`
}

// Deduction is one day deducted locally from a day license (docs/design.md#day-licenses).
type Deduction struct {
	Seq        int64  `json:"seq"`
	DeviceID   string `json:"device_id"`
	LicenseID  string `json:"license_id"`
	At         int64  `json:"at"`
	PaidUntil  int64  `json:"paid_until"`
	DaysBefore int64  `json:"days_before"`
	DaysAfter  int64  `json:"days_after"`
	// Failed marks the record of a day nothing could pay: the device
	// blacklisted itself (docs/design.md#enforcement-on-the-agent step 4). It charges nothing; the server
	// blacklists the device when the record reaches it.
	Failed bool `json:"failed,omitempty"`
}

// Bucket counts the samples of one device in one hour.
type Bucket struct {
	Accepted int64 `json:"accepted"`
	Overage  int64 `json:"overage"`
}

// SelfBlacklist records why a device blacklisted itself.
type SelfBlacklist struct {
	Reason    string `json:"reason"`
	LicenseID string `json:"license_id,omitempty"`
	At        int64  `json:"at"`
}

// Init stores the identity and the pinned trust bundle of a new agent.
func (s *Store) Init(id Identity, trust []byte) error {
	return s.db.Update(func(txn *badger.Txn) error {
		var held Identity
		switch err := getJSON(txn, KeyIdentity(), &held); {
		case err == nil && held.DeviceID == id.DeviceID:
			return fmt.Errorf("%w: it holds device %s (model %s) already", ErrExists, held.DeviceID, held.Model)
		case err == nil:
			return fmt.Errorf("%w: it holds device %s (model %s); give %s another --data directory",
				ErrExists, held.DeviceID, held.Model, id.DeviceID)
		case !errors.Is(err, ErrNotFound):
			return err
		}
		if err := SetJSON(txn, KeyIdentity(), id); err != nil {
			return err
		}
		if len(trust) > 0 {
			return txn.Set(KeyTrust(), trust)
		}
		return nil
	})
}

// Identity returns the agent's identity.
func (s *Store) Identity() (Identity, error) {
	var id Identity
	err := s.GetJSON(KeyIdentity(), &id)
	return id, err
}

// Trust returns the pinned trust bundle file.
func (s *Store) Trust() ([]byte, error) { return s.GetBytes(KeyTrust()) }

// PinTrust stores the trust bundle file to verify server documents with,
// over any other (the caller decides whether it may be replaced).
func (s *Store) PinTrust(trust []byte) error {
	return s.db.Update(func(txn *badger.Txn) error { return txn.Set(KeyTrust(), trust) })
}

// PutToken stores a verified license token unless a higher version, or the
// same version with other content, was seen for its license. It reports
// whether the token is newer than what was held.
func (s *Store) PutToken(l *token.License, text string) (newer bool, err error) {
	err = s.db.Update(func(txn *badger.Txn) error {
		newer, err = putToken(txn, l, text)
		return err
	})
	return newer, err
}

// putToken is PutToken inside txn.
func putToken(txn *badger.Txn, l *token.License, text string) (bool, error) {
	held, err := getBytes(txn, KeyVersion(l.LicenseID))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return false, err
	}
	if err == nil {
		if len(held) != 8 {
			return false, fmt.Errorf("%w: version record of %s", ErrCorrupt, l.LicenseID)
		}
		v := int64(binary.BigEndian.Uint64(held))
		switch {
		case l.Version < v:
			return false, fmt.Errorf("%w: license %s version %d, already saw %d", ErrRollback, l.LicenseID, l.Version, v)
		case l.Version == v:
			cur, err := getBytes(txn, KeyToken(l.LicenseID))
			if err == nil && string(cur) != text {
				return false, fmt.Errorf("%w: license %s version %d with different content", ErrRollback, l.LicenseID, v)
			}
			return false, err
		}
	}
	if err := txn.Set(KeyVersion(l.LicenseID), binary.BigEndian.AppendUint64(nil, uint64(l.Version))); err != nil {
		return false, err
	}
	return true, txn.Set(KeyToken(l.LicenseID), []byte(text))
}

// Tokens returns the text of every stored license token.
func (s *Store) Tokens() ([]string, error) {
	var out []string
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: PrefixTokens(), PrefetchValues: true, PrefetchSize: 16})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if it.Item().ValueSize() > limits.MaxStoredRecordBytes {
				return fmt.Errorf("%w: token record too large", ErrCorrupt)
			}
			err := itemValue(it.Item(), func(b []byte) error {
				out = append(out, string(b))
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// PutRevocation stores the revocation list text.
func (s *Store) PutRevocation(text string) error {
	return s.db.Update(func(txn *badger.Txn) error { return txn.Set(KeyRevocation(), []byte(text)) })
}

// Revocation returns the stored revocation list text, or ErrNotFound.
func (s *Store) Revocation() (string, error) {
	b, err := s.GetBytes(KeyRevocation())
	return string(b), err
}

// AppendDeduction writes d durably: in one transaction with the device's
// deduction sequence, refusing a sequence not above the last one (gaps are
// allowed: the agent jumps past a token's days_through_seq),
// then fsynced before it returns, so that a sample accepted on the strength
// of this day survives power loss too.
func (s *Store) AppendDeduction(d Deduction) error {
	if err := s.db.Update(func(txn *badger.Txn) error { return appendDeduction(txn, d) }); err != nil {
		return err
	}
	return s.Flush()
}

// SelfBlacklist records, in one fsynced transaction, that a device
// blacklisted itself and the failed deduction record that tells the server
// why (failed.Failed must be set).
func (s *Store) SelfBlacklist(deviceID string, rec SelfBlacklist, failed Deduction) error {
	if !failed.Failed || failed.DeviceID != deviceID {
		return fmt.Errorf("%w: self-blacklisting %s needs its own failed deduction record", ErrSeqOrder, deviceID)
	}
	err := s.db.Update(func(txn *badger.Txn) error {
		if err := SetJSON(txn, KeySelfBlacklist(deviceID), rec); err != nil {
			return err
		}
		n, err := getInt(txn, KeyFailedDays(deviceID))
		if err != nil {
			return err
		}
		if err := SetInt(txn, KeyFailedDays(deviceID), n+1); err != nil {
			return err
		}
		return appendDeduction(txn, failed)
	})
	if err != nil {
		return err
	}
	return s.Flush()
}

// appendDeduction stores d as the device's next deduction record,
// refusing a seq at or below the last one held.
func appendDeduction(txn *badger.Txn, d Deduction) error {
	last, err := getInt(txn, KeyDeductionSeq(d.DeviceID))
	if err != nil {
		return err
	}
	if d.Seq <= last {
		return fmt.Errorf("%w: device %s seq %d after %d", ErrSeqOrder, d.DeviceID, d.Seq, last)
	}
	if err := SetJSON(txn, KeyDeduction(d.DeviceID, d.Seq), d); err != nil {
		return err
	}
	return SetInt(txn, KeyDeductionSeq(d.DeviceID), d.Seq)
}

// Deductions returns a device's deduction records in sequence order.
func (s *Store) Deductions(deviceID string) ([]Deduction, error) {
	var out []Deduction
	err := s.db.View(func(txn *badger.Txn) error {
		return iterate(txn, PrefixDeductions(deviceID), func(key, val []byte) error {
			var d Deduction
			if err := decodeJSON(key, val, &d); err != nil {
				return err
			}
			out = append(out, d)
			return nil
		})
	})
	return out, err
}

// DeductionSeq returns the last deduction sequence of a device (0 if none).
func (s *Store) DeductionSeq(deviceID string) (int64, error) {
	var v int64
	err := s.db.View(func(txn *badger.Txn) error {
		var err error
		v, err = getInt(txn, KeyDeductionSeq(deviceID))
		return err
	})
	return v, err
}

// LiftsSelfBlacklist reports whether a newer token lifts its device's
// self-imposed blacklist: it is the server's word after an admin acted
// (days added, a term license bound). A day license's new version with no
// days left (the server re-signs after every day it charges) does not: the
// device would only fail its next day again.
func LiftsSelfBlacklist(l *token.License) bool {
	return l.Billing != token.BillingDays || l.Days > 0
}

// FailedDays returns how many failed days a device ever recorded.
func (s *Store) FailedDays(deviceID string) (int64, error) {
	var v int64
	err := s.db.View(func(txn *badger.Txn) error {
		var err error
		v, err = getInt(txn, KeyFailedDays(deviceID))
		return err
	})
	return v, err
}

// Buckets returns a device's hourly buckets by Unix hour.
func (s *Store) Buckets(deviceID string) (map[int64]Bucket, error) {
	out := map[int64]Bucket{}
	err := s.db.View(func(txn *badger.Txn) error {
		return iterate(txn, PrefixBuckets(deviceID), func(key, val []byte) error {
			h, err := BucketHour(key, deviceID)
			if err != nil {
				return err
			}
			var b Bucket
			if err := decodeJSON(key, val, &b); err != nil {
				return err
			}
			out[h] = b
			return nil
		})
	})
	return out, err
}

// PruneBuckets deletes a device's buckets older than hour.
func (s *Store) PruneBuckets(deviceID string, before int64) error {
	var old [][]byte
	err := s.db.View(func(txn *badger.Txn) error {
		return iterate(txn, PrefixBuckets(deviceID), func(key, _ []byte) error {
			h, err := BucketHour(key, deviceID)
			if err == nil && h < before {
				old = append(old, append([]byte(nil), key...))
			}
			return err
		})
	})
	if err != nil || len(old) == 0 {
		return err
	}
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	for _, k := range old {
		if err := wb.Delete(k); err != nil {
			return err
		}
	}
	return wb.Flush()
}

// Int returns the integer at key, 0 if absent.
func (s *Store) Int(key []byte) (int64, error) {
	var v int64
	err := s.db.View(func(txn *badger.Txn) error {
		var err error
		v, err = getInt(txn, key)
		return err
	})
	return v, err
}

// Counters returns the refusal counters by reason.
func (s *Store) Counters() (map[string]int64, error) {
	out := map[string]int64{}
	err := s.db.View(func(txn *badger.Txn) error {
		return iterate(txn, PrefixRefused(), func(key, val []byte) error {
			if len(val) != 8 {
				return fmt.Errorf("%w: counter %q", ErrCorrupt, key)
			}
			out[string(key[len(prefixRefused):])] = int64(binary.BigEndian.Uint64(val))
			return nil
		})
	})
	return out, err
}

// SetInt sets an integer record inside txn.
func SetInt(txn *badger.Txn, key []byte, v int64) error {
	return txn.Set(key, binary.BigEndian.AppendUint64(nil, uint64(v)))
}

func getInt(txn *badger.Txn, key []byte) (int64, error) {
	b, err := getBytes(txn, key)
	if errors.Is(err, ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if len(b) != 8 {
		return 0, fmt.Errorf("%w: integer record %q has %d bytes", ErrCorrupt, key, len(b))
	}
	return int64(binary.BigEndian.Uint64(b)), nil
}

func iterate(txn *badger.Txn, prefix []byte, fn func(key, val []byte) error) error {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 64})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		item := it.Item()
		if item.ValueSize() > limits.MaxStoredRecordBytes {
			return fmt.Errorf("%w: record %q too large", ErrCorrupt, item.Key())
		}
		err := itemValue(item, func(val []byte) error { return fn(item.Key(), val) })
		if err != nil {
			return err
		}
	}
	return nil
}

// ClearSelfBlacklist deletes a device's self-blacklist record.
func (s *Store) ClearSelfBlacklist(deviceID string) error {
	return s.db.Update(func(txn *badger.Txn) error { return txn.Delete(KeySelfBlacklist(deviceID)) })
}
