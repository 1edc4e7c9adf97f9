package store

import "bytes"

// LicenseByCustomerAll is the prefix of the whole license-by-owner index
// (every LicenseByCustomerKey), for counting licenses per customer.
func LicenseByCustomerAll() []byte { return prefix("lc") }

// LicenseByCustomerOwner returns the customer part of a
// LicenseByCustomerKey; ok is false for any other key.
func LicenseByCustomerOwner(k []byte) (customer string, ok bool) {
	p := LicenseByCustomerAll()
	if !bytes.HasPrefix(k, p) {
		return "", false
	}
	rest := k[len(p):]
	i := bytes.IndexByte(rest, sep)
	if i <= 0 || i == len(rest)-1 {
		return "", false
	}
	return string(rest[:i]), true
}
