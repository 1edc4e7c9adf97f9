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
	return appendTail(dst, deviceTS, overage, data)
}

// appendTail closes ts and appends device_ts, overage and data.
func appendTail(dst []byte, deviceTS string, overage bool, data []byte) []byte {
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

// TSFormatter formats envelope times (UTC, RFC 3339 with nanoseconds,
// trailing zeros trimmed: exactly time.RFC3339Nano) and keeps the
// date-and-seconds part of the last second it formatted, so that samples
// accepted in the same second cost an integer conversion instead of a full
// calendar conversion. It is not safe for concurrent use.
type TSFormatter struct {
	sec    int64
	prefix []byte // "2006-01-02T15:04:05" of sec
}

// Append appends the time unixNano to dst.
func (f *TSFormatter) Append(dst []byte, unixNano int64) []byte {
	sec, ns := unixNano/1e9, unixNano%1e9
	if ns < 0 {
		sec, ns = sec-1, ns+1e9
	}
	if f.prefix == nil || sec != f.sec {
		f.sec = sec
		f.prefix = time.Unix(sec, 0).UTC().AppendFormat(f.prefix[:0], "2006-01-02T15:04:05")
		if len(f.prefix) != len("2006-01-02T15:04:05") {
			// Years outside 0000–9999 do not fit the fixed layout.
			f.prefix = nil
			return time.Unix(0, unixNano).UTC().AppendFormat(dst, time.RFC3339Nano)
		}
	}
	dst = append(dst, f.prefix...)
	if ns != 0 {
		var frac [10]byte
		frac[0] = '.'
		for i := 9; i >= 1; i-- {
			frac[i] = byte('0' + ns%10)
			ns /= 10
		}
		n := 10
		for frac[n-1] == '0' {
			n--
		}
		dst = append(dst, frac[:n]...)
	}
	return append(dst, 'Z')
}

// AppendTelemetryTailTS is AppendTelemetryTail with the time formatted by
// f from nanoseconds since the Unix epoch.
func AppendTelemetryTailTS(dst []byte, f *TSFormatter, seq, unixNano int64, deviceTS string, overage bool, data []byte) []byte {
	dst = append(dst, `,"seq":`...)
	dst = strconv.AppendInt(dst, seq, 10)
	dst = append(dst, `,"ts":"`...)
	dst = f.Append(dst, unixNano)
	return appendTail(dst, deviceTS, overage, data)
}
