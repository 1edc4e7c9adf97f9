package store

import (
	"bytes"
	"strconv"
)

// Keys of the license history (ledger/licensehistory.go), built with the
// same helpers as keys.go.

// LicenseHistoryKey is one history entry of a license, by its seq (the
// order the changes were made in).
func LicenseHistoryKey(license string, seq int64) []byte { return key("lh", license, num(seq)) }

// LicenseHistoryPrefix is the prefix of every entry of a license, oldest first.
func LicenseHistoryPrefix(license string) []byte { return prefix("lh", license) }

// RenewalKey indexes a renewal under a customer that owned the license
// when it renewed (or an ancestor of that owner), by the instant the new
// period started.
func RenewalKey(customer string, start int64, license string, seq int64) []byte {
	return key("lr", customer, num(start), license, num(seq))
}

// RenewalPrefix is the prefix of every RenewalKey of a customer, in order
// of period start.
func RenewalPrefix(customer string) []byte { return prefix("lr", customer) }

// RenewalFrom is the first RenewalKey of customer whose period starts at
// or after start.
func RenewalFrom(customer string, start int64) []byte { return prefix("lr", customer, num(start)) }

// RenewalParts returns the period start, license id and entry seq of a
// RenewalKey; ok is false for any other key.
func RenewalParts(k []byte) (start int64, license string, seq int64, ok bool) {
	if !bytes.HasPrefix(k, []byte("lr/")) {
		return 0, "", 0, false
	}
	parts := bytes.Split(k[3:], []byte{sep})
	if len(parts) != 4 {
		return 0, "", 0, false
	}
	start, err1 := strconv.ParseInt(string(parts[1]), 10, 64)
	seq, err2 := strconv.ParseInt(string(parts[3]), 10, 64)
	if err1 != nil || err2 != nil || len(parts[2]) == 0 {
		return 0, "", 0, false
	}
	return start, string(parts[2]), seq, true
}

// OwnedKey records that a license was owned, at some time, by customer or
// a descendant of it: the licenses a report of a customer's subtree as it
// was on a past day must look at.
func OwnedKey(customer, license string) []byte { return key("lo", customer, license) }

// OwnedPrefix is the prefix of every OwnedKey of a customer.
func OwnedPrefix(customer string) []byte { return prefix("lo", customer) }

// LicenseAll is the prefix of every license record (LicenseKey).
func LicenseAll() []byte { return prefix("l") }

// HistorySeededKey marks a store whose licenses all have a history.
func HistorySeededKey() []byte { return MetaKey("history_seeded") }
