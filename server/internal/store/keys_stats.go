package store

// Statistics keys: counters the ledger keeps in the same transaction as
// each change, and the ordered indexes that answer the time-dependent
// figures by reading only the matching range. All are per owning
// customer; a subtree's figure is the sum over its customers.

// StatsVersionKey holds the version of the statistics counters; a ledger
// without it has its counters rebuilt once when it opens.
func StatsVersionKey() []byte { return MetaKey("stats_version") }

// StatsKindKey counts the licenses of customer of one kind (an encoded
// type, billing, rate and model range) in one status.
func StatsKindKey(customer, kind, status string) []byte { return key("xk", customer, kind, status) }

// StatsKindPrefix is the prefix of every StatsKindKey of customer.
func StatsKindPrefix(customer string) []byte { return prefix("xk", customer) }

// StatsEndKey indexes a license of customer by the instant (Unix
// nanoseconds) at which it expires unless changed again.
func StatsEndKey(customer string, at int64, id string) []byte {
	return key("xe", customer, num(at), id)
}

// StatsEndPrefix is the prefix of every StatsEndKey of customer.
func StatsEndPrefix(customer string) []byte { return prefix("xe", customer) }

// StatsDaysKey indexes a day license of customer with few available days
// by that number of days.
func StatsDaysKey(customer string, days int64, id string) []byte {
	return key("xd", customer, num(days), id)
}

// StatsDaysPrefix is the prefix of every StatsDaysKey of customer.
func StatsDaysPrefix(customer string) []byte { return prefix("xd", customer) }

// StatsBlacklistKey counts the blacklisted devices of customer.
func StatsBlacklistKey(customer string) []byte { return key("xb", customer) }

// StatsAllPrefixes are the prefixes of every statistics key, for a rebuild.
func StatsAllPrefixes() [][]byte {
	return [][]byte{prefix("xk"), prefix("xe"), prefix("xd"), prefix("xb")}
}

// KeyPart returns the i-th '/'-separated part of k (0: the table).
func KeyPart(k []byte, i int) string {
	start := 0
	for n := 0; ; n++ {
		end := start
		for end < len(k) && k[end] != sep {
			end++
		}
		if n == i {
			return string(k[start:end])
		}
		if end == len(k) {
			return ""
		}
		start = end + 1
	}
}

// StatsOfflineKey indexes a device of customer by the instant (Unix
// nanoseconds) its max_offline runs out after its last sync.
func StatsOfflineKey(customer string, deadline int64, device string) []byte {
	return key("xo", customer, num(deadline), device)
}

// StatsOfflinePrefix is the prefix of every StatsOfflineKey of customer.
func StatsOfflinePrefix(customer string) []byte { return prefix("xo", customer) }

// StatsOfflineOfKey holds a device's current StatsOfflineKey parts, so that
// a sync moves its entry without reading the device's licenses.
func StatsOfflineOfKey(device string) []byte { return key("xp", device) }
