package store

import (
	"fmt"
	"strconv"
)

// Every badger key of the server is built here and nowhere else. A key is a
// short table prefix, then its parts separated by '/'. Ids cannot contain
// '/' (shared/ident), so no two different part lists give the same key, and
// a prefix that ends in '/' never matches a longer id. Numbers are
// zero-padded to 20 digits so that byte order is numeric order.

const sep = '/'

func key(table string, parts ...string) []byte {
	n := len(table)
	for _, p := range parts {
		n += 1 + len(p)
	}
	b := make([]byte, 0, n)
	b = append(b, table...)
	for _, p := range parts {
		b = append(b, sep)
		b = append(b, p...)
	}
	return b
}

func prefix(table string, parts ...string) []byte { return append(key(table, parts...), sep) }

// num is n zero-padded to 20 digits (what fmt's %020d gives, without
// fmt: keys are built on every sync).
func num(n int64) string {
	if n < 0 {
		return fmt.Sprintf("%020d", n)
	}
	var b [20]byte
	for i := range b {
		b[i] = '0'
	}
	d := strconv.AppendInt(make([]byte, 0, 20), n, 10)
	copy(b[20-len(d):], d)
	return string(b[:])
}

// CustomerKey is the record of one customer.
func CustomerKey(id string) []byte { return key("c", id) }

// ChildKey indexes child under parent in the customer tree.
func ChildKey(parent, child string) []byte { return key("cc", parent, child) }

// ChildPrefix is the prefix of every ChildKey of parent.
func ChildPrefix(parent string) []byte { return prefix("cc", parent) }

// UserKey is the record of one user.
func UserKey(id string) []byte { return key("u", id) }

// UserByCustomerKey indexes a user under its customer.
func UserByCustomerKey(customer, id string) []byte { return key("uc", customer, id) }

// UserByCustomerPrefix is the prefix of every user of customer.
func UserByCustomerPrefix(customer string) []byte { return prefix("uc", customer) }

// APIKeyKey maps the hex SHA-256 of an API key to its user id.
func APIKeyKey(hash string) []byte { return key("ak", hash) }

// DeviceKey is the record of one device.
func DeviceKey(id string) []byte { return key("d", id) }

// DeviceByCustomerKey indexes a device under its customer.
func DeviceByCustomerKey(customer, id string) []byte { return key("dc", customer, id) }

// DeviceByCustomerPrefix is the prefix of every device of customer.
func DeviceByCustomerPrefix(customer string) []byte { return prefix("dc", customer) }

// GatewayChildKey indexes a child device under its gateway.
func GatewayChildKey(gateway, child string) []byte { return key("dg", gateway, child) }

// GatewayChildPrefix is the prefix of every child of gateway.
func GatewayChildPrefix(gateway string) []byte { return prefix("dg", gateway) }

// DeviceFingerprintKey maps a device public key fingerprint to its device id.
func DeviceFingerprintKey(fp string) []byte { return key("df", fp) }

// LicenseKey is the record of one license.
func LicenseKey(id string) []byte { return key("l", id) }

// SerialKey maps a license serial to its id.
func SerialKey(serial string) []byte { return key("ls", serial) }

// LicenseByCustomerKey indexes a license under its owner.
func LicenseByCustomerKey(customer, id string) []byte { return key("lc", customer, id) }

// LicenseByCustomerPrefix is the prefix of every license of customer.
func LicenseByCustomerPrefix(customer string) []byte { return prefix("lc", customer) }

// LicenseByDeviceKey indexes a license under the device it is bound to.
func LicenseByDeviceKey(device, id string) []byte { return key("ld", device, id) }

// LicenseByDevicePrefix is the prefix of every license bound to device.
func LicenseByDevicePrefix(device string) []byte { return prefix("ld", device) }

// PeriodEndKey indexes a term license by the Unix second its current period
// ends, so that the scheduler reads only what is due.
func PeriodEndKey(end int64, id string) []byte { return key("le", num(end), id) }

// PeriodEndPrefix is the prefix of every PeriodEndKey.
func PeriodEndPrefix() []byte { return prefix("le") }

// TokenKey holds the current signed token of a bound license.
func TokenKey(licenseID string) []byte { return key("t", licenseID) }

// DeductionKey is one day deduction, by device and device sequence number.
func DeductionKey(device string, seq int64) []byte { return key("dd", device, num(seq)) }

// DeductionByLicenseKey indexes a deduction under the license it charged.
func DeductionByLicenseKey(license, device string, seq int64) []byte {
	return key("dl", license, device, num(seq))
}

// ForkChargeByLicenseKey indexes, under the license it charged, the day
// charged for a forked record of a device's seq (digest: the fork's, as in
// ForkKey). It sorts after the seq's own DeductionByLicenseKey and within
// DeductionByLicensePrefix.
func ForkChargeByLicenseKey(license, device string, seq int64, digest string) []byte {
	return key("dl", license, device, num(seq), digest)
}

// DeductionByLicensePrefix is the prefix of every deduction of license.
func DeductionByLicensePrefix(license string) []byte { return prefix("dl", license) }

// DeductionPrefix is every deduction record of a device, by seq.
func DeductionPrefix(device string) []byte { return prefix("dd", device) }

// SyncStateKey holds a device's sync summary (last sync, acked seq, counts
// of forks and overdrafts).
func SyncStateKey(device string) []byte { return key("ys", device) }

// SyncRecordKey holds a deduction record as the device reported it, to tell
// a replay (same content) from a fork (different content).
func SyncRecordKey(device string, seq int64) []byte { return key("yr", device, num(seq)) }

// ForkKey holds one conflicting record of a device's seq; digest tells
// several conflicting versions of the same seq apart.
func ForkKey(device string, seq int64, digest string) []byte {
	return key("yf", device, num(seq), digest)
}

// ActivationSeqKey holds the seq of the last air-gap activation key made
// for a device; every new key takes the next.
func ActivationSeqKey(device string) []byte { return key("ka", device) }

// UsageReceiptKey marks a usage receipt (by its nonce) as imported, so that
// importing the same file again changes nothing.
func UsageReceiptKey(device, nonce string) []byte { return key("ur", device, nonce) }

// ForkPrefix is every fork of a device, by seq.
func ForkPrefix(device string) []byte { return prefix("yf", device) }

// CountDayKey holds a device's reported sample counts of one UTC day
// (day: the Unix second it starts): the day's hourly counts, one JSON
// object per line, by hour (ledger/count_days.go).
func CountDayKey(device string, day int64) []byte { return key("hd", device, num(day)) }

// CountDayPrefix is every day of counts of a device, by day.
func CountDayPrefix(device string) []byte { return prefix("hd", device) }

// HourlyCountKey is where a ledger written before counts were kept by day
// held a device's counts of one hour (Unix seconds). Only the conversion
// to CountDayKey records (ledger/count_days_migrate.go) reads these keys.
func HourlyCountKey(device string, hour int64) []byte { return key("hc", device, num(hour)) }

// HourlyCountPrefix is every HourlyCountKey of a device, by hour.
func HourlyCountPrefix(device string) []byte { return prefix("hc", device) }

// HourlyCountAll is the prefix of every HourlyCountKey.
func HourlyCountAll() []byte { return prefix("hc") }

// CountDaysKey marks a ledger whose hourly counts are kept by day: every
// HourlyCountKey was converted (ledger/count_days_migrate.go).
func CountDaysKey() []byte { return MetaKey("count_days") }

// SaleKey is one sales record.
func SaleKey(seq int64) []byte { return key("s", num(seq)) }

// SalePrefix is the prefix of every SaleKey.
func SalePrefix() []byte { return prefix("s") }

// SaleByCustomerKey indexes a sales record under both sides and their ancestors.
func SaleByCustomerKey(customer string, seq int64) []byte { return key("sc", customer, num(seq)) }

// SaleByCustomerPrefix is the prefix of every SaleByCustomerKey of customer.
func SaleByCustomerPrefix(customer string) []byte { return prefix("sc", customer) }

// AuditKey is one audit log entry.
func AuditKey(seq int64) []byte { return key("a", num(seq)) }

// AuditPrefix is the prefix of every AuditKey.
func AuditPrefix() []byte { return prefix("a") }

// AuditByCustomerKey indexes an audit entry under every customer that may
// see it (the object's owner and each of its ancestors).
func AuditByCustomerKey(customer string, seq int64) []byte { return key("ac", customer, num(seq)) }

// AuditByCustomerPrefix is the prefix of every AuditByCustomerKey of customer.
func AuditByCustomerPrefix(customer string) []byte { return prefix("ac", customer) }

// RevokedKey marks a license id as revoked for good (revoked or transferred).
func RevokedKey(id string) []byte { return key("rv", id) }

// RevokedPrefix is the prefix of every RevokedKey.
func RevokedPrefix() []byte { return prefix("rv") }

// SuspendedKey marks a license id as suspended.
func SuspendedKey(id string) []byte { return key("sp", id) }

// SuspendedPrefix is the prefix of every SuspendedKey.
func SuspendedPrefix() []byte { return prefix("sp") }

// SupersededKey holds, for a license whose earlier tokens are void (its
// device lost it), the lowest valid version and until when a void token
// could still be within its window.
func SupersededKey(id string) []byte { return key("ss", id) }

// SupersededPrefix is the prefix of every SupersededKey.
func SupersededPrefix() []byte { return prefix("ss") }

// BlacklistKey marks a device id as blacklisted.
func BlacklistKey(device string) []byte { return key("bl", device) }

// BlacklistPrefix is the prefix of every BlacklistKey.
func BlacklistPrefix() []byte { return prefix("bl") }

// RevocationListKey holds the current signed revocation list.
func RevocationListKey() []byte { return key("rl") }

// CounterKey holds a named counter (audit and sales sequences).
func CounterKey(name string) []byte { return key("n", name) }

// MetaKey holds a named server setting (root customer id, schema version).
func MetaKey(name string) []byte { return key("m", name) }

// LastPart returns what follows the last '/' of k: the id of an index key.
func LastPart(k []byte) string {
	for i := len(k) - 1; i >= 0; i-- {
		if k[i] == sep {
			return string(k[i+1:])
		}
	}
	return string(k)
}
