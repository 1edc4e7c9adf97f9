package store

// ReceivedCountKey holds what a device's syncs added to its hourly counts
// in one hour of the server's clock (Unix seconds): the counts as the
// server received them, whatever hours of the device's clock they were
// for (ledger/sync_received.go).
func ReceivedCountKey(device string, hour int64) []byte { return key("rcv", device, num(hour)) }

// ReceivedCountPrefix is every received count of a device, by hour.
func ReceivedCountPrefix(device string) []byte { return prefix("rcv", device) }
