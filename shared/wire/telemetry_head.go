package wire

import (
	"strconv"
	"time"
)

// TelemetryHead returns the start of the envelope that is the same for
// every sample of one (device, customer, license):
// {"v":1,"device_id":…,"customer_id":…,"license_id":…
// The agent builds it once per device and license and finishes each
// sample's envelope with AppendTelemetryTail, so the hot path quotes no ids.
func TelemetryHead(deviceID, customerID, licenseID string) []byte {
	dst := append([]byte(nil), `{"v":`...)
	dst = strconv.AppendInt(dst, TelemetryVersion, 10)
	dst = appendField(dst, "device_id", deviceID)
	dst = appendField(dst, "customer_id", customerID)
	return appendField(dst, "license_id", licenseID)
}

// AppendTelemetryTail appends the rest of an envelope — seq, ts (the time
// in UTC, RFC 3339 with nanoseconds), device_ts, overage, data — to dst,
// which must end with a TelemetryHead. The bytes are exactly those
// AppendTelemetry writes for the same values (tested), so the documented
// format does not depend on which of the two built an envelope.
func AppendTelemetryTail(dst []byte, seq int64, ts time.Time, deviceTS string, overage bool, data []byte) []byte {
	dst = append(dst, `,"seq":`...)
	dst = strconv.AppendInt(dst, seq, 10)
	dst = append(dst, `,"ts":"`...)
	dst = ts.UTC().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, '"')
	if deviceTS != "" {
		dst = append(dst, `,"device_ts":`...)
		dst = appendQuoted(dst, deviceTS)
	}
	if overage {
		dst = append(dst, `,"overage":true`...)
	}
	dst = append(dst, `,"data":`...)
	dst = append(dst, data...)
	return append(dst, '}')
}

// appendQuoted is strconv.AppendQuote with a fast path for printable ASCII
// without quotes or backslashes, which AppendQuote copies verbatim.
func appendQuoted(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return strconv.AppendQuote(dst, s)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}
