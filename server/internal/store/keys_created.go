package store

import (
	"bytes"
	"strconv"
)

// IssuedKey indexes a license created with an issuer right under that
// issuer (or an ancestor of it), by the second it was created: what a
// distributor created in a month, for its collective purchase order. The
// value is the customer the license was created for.
func IssuedKey(customer string, created int64, license string) []byte {
	return key("li", customer, num(created), license)
}

// IssuedPrefix is the prefix of every IssuedKey of a customer, oldest first.
func IssuedPrefix(customer string) []byte { return prefix("li", customer) }

// IssuedFrom is the first IssuedKey of customer created at or after created.
func IssuedFrom(customer string, created int64) []byte { return prefix("li", customer, num(created)) }

// IssuedParts returns the creation second and license id of an IssuedKey;
// ok is false for any other key.
func IssuedParts(k []byte) (created int64, license string, ok bool) {
	if !bytes.HasPrefix(k, []byte("li/")) {
		return 0, "", false
	}
	parts := bytes.Split(k[3:], []byte{sep})
	if len(parts) != 3 || len(parts[2]) == 0 {
		return 0, "", false
	}
	created, err := strconv.ParseInt(string(parts[1]), 10, 64)
	if err != nil {
		return 0, "", false
	}
	return created, string(parts[2]), true
}

// IssuedSeededKey marks a store whose licenses are all in the issued index.
func IssuedSeededKey() []byte { return MetaKey("issued_seeded") }
