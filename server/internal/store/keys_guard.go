package store

import "net/url"

// Keys of online activation's guessing bounds (ledger/redeemguard.go) and
// of the early key check of a sync request, built with the same helpers
// as keys.go.
//
// Failures are counted per fixed time window (its number: Unix seconds
// divided by the window length), so that every window is one key range and
// a whole past window is dropped by scanning its prefix in key order.

// GuessWindowKey holds the totals of one window: serial failures from all
// sources and the number of sources tracked in it.
func GuessWindowKey(window int64) []byte { return key("gw", num(window)) }

// GuessWindowPrefix is the prefix of every GuessWindowKey.
func GuessWindowPrefix() []byte { return prefix("gw") }

// GuessSourceKey holds the failures of one source address in a window. The
// source is path-escaped: an IPv6 source is a prefix such as
// "2001:db8::/64", whose '/' would otherwise split the key.
func GuessSourceKey(window int64, source string) []byte {
	return key("gs", num(window), url.PathEscape(source))
}

// GuessSourcePrefix is the prefix of every GuessSourceKey, oldest window first.
func GuessSourcePrefix() []byte { return prefix("gs") }

// GuessKeyWindow returns the window number of a GuessWindowKey or
// GuessSourceKey.
func GuessKeyWindow(k []byte) (int64, bool) {
	var p []byte
	switch {
	case len(k) >= 3 && string(k[:3]) == "gw/":
		p = k[3:]
	case len(k) >= 3 && string(k[:3]) == "gs/":
		p = k[3:]
	default:
		return 0, false
	}
	if len(p) < 20 || (len(p) > 20 && p[20] != sep) || (string(k[:2]) == "gs" && len(p) < 22) {
		return 0, false
	}
	var w int64
	for _, c := range p[:20] {
		if c < '0' || c > '9' {
			return 0, false
		}
		w = w*10 + int64(c-'0')
	}
	return w, true
}

// DeviceKeyIDPrefix is the prefix of the DeviceFingerprintKey of every
// device whose key has id keyID (the first 16 hex digits of its
// fingerprint): a sync request names its key id before anything else.
func DeviceKeyIDPrefix(keyID string) []byte { return key("df", keyID) }
