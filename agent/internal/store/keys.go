package store

import (
	"encoding/binary"
	"fmt"
)

// Key prefixes. Every badger key the agent writes is built by one of the
// helpers below; ids never contain '/', so "PREFIX/ID/" cannot collide.
const (
	prefixMeta      = "m/"
	prefixToken     = "t/"
	prefixVersion   = "v/"
	prefixDeduction = "d/"
	prefixDedSeq    = "ds/"
	prefixBucket    = "b/"
	prefixTotals    = "n/"
	prefixSampleSeq = "s/"
	prefixSelfBlack = "x/"
	prefixFailDays  = "xf/"
	prefixRefused   = "r/"
	prefixOutbox    = "o/"
)

// KeyIdentity is the key of the device identity record.
func KeyIdentity() []byte { return []byte(prefixMeta + "identity") }

// KeyTrust is the key of the pinned trust bundle.
func KeyTrust() []byte { return []byte(prefixMeta + "trust") }

// KeyRevocation is the key of the newest revocation list held.
func KeyRevocation() []byte { return []byte(prefixMeta + "revocation") }

// KeyClock is the key of the effective clock's persisted state.
func KeyClock() []byte { return []byte(prefixMeta + "clock") }

// KeyOutboxHead is the key of the highest outbox sequence ever assigned.
func KeyOutboxHead() []byte { return []byte(prefixMeta + "outbox_head") }

// KeyOutboxAcked is the key of the highest outbox sequence the broker has
// acknowledged (acknowledgements arrive in order).
func KeyOutboxAcked() []byte { return []byte(prefixMeta + "outbox_acked") }

// KeyDropped is the key of the count of samples refused because the outbox
// was full.
func KeyDropped() []byte { return []byte(prefixMeta + "outbox_dropped") }

// PrefixTokens is the prefix of all stored license tokens.
func PrefixTokens() []byte { return []byte(prefixToken) }

// KeyToken is the key of the token held for a license.
func KeyToken(licenseID string) []byte { return []byte(prefixToken + licenseID) }

// KeyVersion is the key of the highest token version seen for a license; it
// outlives the token so that a rollback stays refused.
func KeyVersion(licenseID string) []byte { return []byte(prefixVersion + licenseID) }

// PrefixDeductions is the prefix of one device's deduction records.
func PrefixDeductions(deviceID string) []byte { return []byte(prefixDeduction + deviceID + "/") }

// KeyDeduction is the key of one deduction record; big-endian so that
// iteration follows the sequence.
func KeyDeduction(deviceID string, seq int64) []byte {
	return appendUint(PrefixDeductions(deviceID), seq)
}

// KeyDeductionSeq is the key of the last deduction sequence of a device.
func KeyDeductionSeq(deviceID string) []byte { return []byte(prefixDedSeq + deviceID) }

// PrefixBuckets is the prefix of one device's hourly sample buckets.
func PrefixBuckets(deviceID string) []byte { return []byte(prefixBucket + deviceID + "/") }

// KeyBucket is the key of one device's bucket for an hour (Unix hours).
func KeyBucket(deviceID string, hour int64) []byte {
	return appendUint(PrefixBuckets(deviceID), hour)
}

// KeyTotals is the key of a device's lifetime sample totals.
func KeyTotals(deviceID string) []byte { return []byte(prefixTotals + deviceID) }

// KeySampleSeq is the key of the last sample sequence assigned to a device.
func KeySampleSeq(deviceID string) []byte { return []byte(prefixSampleSeq + deviceID) }

// KeyFailedDays is the key of how many failed days (self-blacklistings)
// a device ever recorded; it survives the lifting of a self-blacklist.
func KeyFailedDays(deviceID string) []byte { return []byte(prefixFailDays + deviceID) }

// KeySelfBlacklist is the key of a device's self-blacklist record.
func KeySelfBlacklist(deviceID string) []byte { return []byte(prefixSelfBlack + deviceID) }

// PrefixRefused is the prefix of the refusal counters.
func PrefixRefused() []byte { return []byte(prefixRefused) }

// KeyRefused is the key of the refusal counter for a reason.
func KeyRefused(reason string) []byte { return []byte(prefixRefused + reason) }

// PrefixOutbox is the prefix of the outbox entries.
func PrefixOutbox() []byte { return []byte(prefixOutbox) }

// KeyOutbox is the key of the outbox segment whose first entry has
// sequence seq.
func KeyOutbox(seq int64) []byte { return appendUint([]byte(prefixOutbox), seq) }

// OutboxSeq returns the sequence of an outbox key.
func OutboxSeq(key []byte) (int64, error) {
	return trailingUint(key, len(prefixOutbox))
}

// BucketHour returns the hour of a bucket key built by KeyBucket.
func BucketHour(key []byte, deviceID string) (int64, error) {
	return trailingUint(key, len(prefixBucket)+len(deviceID)+1)
}

func appendUint(b []byte, v int64) []byte {
	return binary.BigEndian.AppendUint64(b, uint64(v))
}

func trailingUint(key []byte, prefixLen int) (int64, error) {
	if len(key) != prefixLen+8 {
		return 0, fmt.Errorf("%w: key of %d bytes, want %d", ErrCorrupt, len(key), prefixLen+8)
	}
	v := binary.BigEndian.Uint64(key[prefixLen:])
	if v > 1<<62 {
		return 0, fmt.Errorf("%w: key sequence %d out of range", ErrCorrupt, v)
	}
	return int64(v), nil
}
