package store

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/y"
)

// damageRemedy is what an operator can do about a damaged state database:
// the data in it cannot be trusted, so it is restored, or rebuilt from
// what the license server knows.
const damageRemedy = "restore DATA/state from a backup (with its state key); without one, " +
	"re-initialize the device and have its licenses re-issued"

// damagedFile finds the badger file an error names.
var damagedFile = regexp.MustCompile(`[^\s"':]+\.(sst|vlog|mem)|MANIFEST|KEYREGISTRY`)

// isDamage tells a checksum or framing failure of badger's files (a
// flipped bit on the storage, a torn copy) from other errors.
func isDamage(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, y.ErrChecksumMismatch) {
		return true
	}
	msg := err.Error()
	for _, s := range []string{"checksum mismatch", "failed to verify checksum",
		"checksum validation failed", "invalid checksum length", "Either the data is corrupted",
		"manifest has bad magic", "Manifest file might be corrupted", "manifest has unsupported version"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// damaged wraps a badger open error that found a damaged file as
// ErrCorrupt, naming the file and the remedy.
func damaged(dir string, err error) error {
	msg := err.Error()
	file := damagedFile.FindString(msg)
	switch {
	case file != "":
	case strings.Contains(strings.ToLower(msg), "manifest"):
		file = "MANIFEST"
	case strings.Contains(msg, "data key"):
		file = "KEYREGISTRY"
	default:
		file = "a file"
	}
	return fmt.Errorf("%w: %s in %s is damaged (%v); %s", ErrCorrupt, file, dir, err, damageRemedy)
}

// itemValue is item.Value that notices a value badger could not read.
// Badger logs a failed value-log read (a checksum mismatch included) and
// hands back an empty value with no error; a value shorter than the size
// its pointer records is therefore damage, not data.
func itemValue(item *badger.Item, fn func(val []byte) error) error {
	return item.Value(func(val []byte) error {
		if int64(len(val)) < item.ValueSize() {
			return fmt.Errorf("%w: record %q: its value could not be read back (%d of %d bytes; see the badger error logged before this); %s",
				ErrCorrupt, item.Key(), len(val), item.ValueSize(), damageRemedy)
		}
		return fn(val)
	})
}
