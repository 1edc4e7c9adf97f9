package store

// Keys of the telemetry the broker observed (ledger/telemetry.go), next to
// the hourly counts devices report (CountDayKey).

// ObservedCountKey holds how many telemetry messages the broker observed
// for a device in one hour (Unix seconds), as a decimal number.
func ObservedCountKey(device string, hour int64) []byte { return key("oc", device, num(hour)) }

// ObservedCountPrefix is every observed count of a device, by hour.
func ObservedCountPrefix(device string) []byte { return prefix("oc", device) }

// ObservedByHourKey indexes an observed count under its hour, so that a
// window of hours is read across devices without visiting idle devices.
func ObservedByHourKey(hour int64, device string) []byte { return key("och", num(hour), device) }

// ObservedByHourPrefix is the prefix of every ObservedByHourKey.
func ObservedByHourPrefix() []byte { return prefix("och") }

// ObservedHourDevice splits an ObservedByHourKey into its hour and device.
func ObservedHourDevice(k []byte) (hour int64, device string, ok bool) {
	p := ObservedByHourPrefix()
	if len(k) < len(p)+21 || string(k[:len(p)]) != string(p) || k[len(p)+20] != sep {
		return 0, "", false
	}
	for _, c := range k[len(p) : len(p)+20] {
		if c < '0' || c > '9' {
			return 0, "", false
		}
		hour = hour*10 + int64(c-'0')
	}
	device = string(k[len(p)+21:])
	return hour, device, device != ""
}
