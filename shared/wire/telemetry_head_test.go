package wire

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

func TestTelemetryHeadTailMatchesAppendTelemetry(t *testing.T) {
	ts := time.Date(2026, 12, 1, 12, 0, 0, 123456789, time.UTC)
	tests := []Telemetry{
		{DeviceID: "pump-1", CustomerID: "acme", LicenseID: "6f1c2a7e-0b3d-4e5f-8a9b-0c1d2e3f4a5b", Seq: 1, Data: json.RawMessage(`{}`)},
		{DeviceID: "pump-1", CustomerID: "acme", LicenseID: "l", Seq: 42, DeviceTS: "2026-12-01T12:00:00Z", Overage: true, Data: json.RawMessage(`{"t":1}`)},
		{DeviceID: "d", CustomerID: "c", LicenseID: "l", Seq: 1 << 62, DeviceTS: "2026-12-01T12:00:00+01:00", Data: json.RawMessage(`{"a":[1,2]}`)},
		// Not a timestamp Validate lets through, but the fallback must still
		// quote like AppendQuote.
		{DeviceID: "d", CustomerID: "c", LicenseID: "l", Seq: 7, DeviceTS: "a\"b\\c\x01é", Data: json.RawMessage(`{}`)},
	}
	for _, tel := range tests {
		for _, at := range []time.Time{ts, ts.Truncate(time.Second), ts.Truncate(time.Millisecond).In(time.FixedZone("x", 3600))} {
			tel.V = TelemetryVersion
			tel.TS = at.UTC().Format(time.RFC3339Nano)
			want := AppendTelemetry(nil, &tel)
			got := AppendTelemetryTail(TelemetryHead(tel.DeviceID, tel.CustomerID, tel.LicenseID), tel.Seq, at, tel.DeviceTS, tel.Overage, tel.Data)
			if !bytes.Equal(got, want) {
				t.Fatalf("head+tail\n got %s\nwant %s", got, want)
			}
		}
	}
}

func FuzzTelemetryTail(f *testing.F) {
	f.Add("pump-1", "acme", "lic", int64(1), int64(1764590400123456789), "2026-12-01T12:00:00Z", true)
	f.Add("d", "c", "l", int64(0), int64(0), "\"\\\x00ü", false)
	f.Fuzz(func(t *testing.T, dev, cust, lic string, seq, ns int64, devTS string, overage bool) {
		at := time.Unix(0, ns)
		tel := Telemetry{V: TelemetryVersion, DeviceID: dev, CustomerID: cust, LicenseID: lic, Seq: seq,
			TS: at.UTC().Format(time.RFC3339Nano), DeviceTS: devTS, Overage: overage, Data: json.RawMessage(`{"x":1}`)}
		want := AppendTelemetry(nil, &tel)
		got := AppendTelemetryTail(TelemetryHead(dev, cust, lic), seq, at, devTS, overage, tel.Data)
		if !bytes.Equal(got, want) {
			t.Fatalf("head+tail\n got %q\nwant %q", got, want)
		}
	})
}

func TestTSFormatterMatchesRFC3339Nano(t *testing.T) {
	var f TSFormatter
	base := time.Date(2026, 12, 1, 23, 59, 59, 0, time.UTC).UnixNano()
	for _, ns := range []int64{base, base + 1, base + 10, base + 120_000_000, base + 999_999_999, base + 1e9, base + 1e9 + 500,
		0, -1, -1e9, time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC).UnixNano(), 1<<63 - 1, -1 << 63} {
		want := time.Unix(0, ns).UTC().AppendFormat(nil, time.RFC3339Nano)
		if got := f.Append(nil, ns); !bytes.Equal(got, want) {
			t.Fatalf("Append(%d) = %s, want %s", ns, got, want)
		}
	}
}

func FuzzTSFormatter(f *testing.F) {
	f.Add(int64(1764590400123456789), int64(1))
	f.Add(int64(-1), int64(1e9))
	f.Fuzz(func(t *testing.T, ns, step int64) {
		var tf TSFormatter
		for i := int64(0); i < 3; i++ {
			at := ns + i*step
			want := time.Unix(0, at).UTC().AppendFormat(nil, time.RFC3339Nano)
			got := AppendTelemetryTailTS([]byte("h"), &tf, 7, at, "", false, []byte(`{}`))
			tel := AppendTelemetryTail([]byte("h"), 7, time.Unix(0, at), "", false, []byte(`{}`))
			if !bytes.Equal(got, tel) || !bytes.Contains(got, want) {
				t.Fatalf("at %d: got %s, want %s (ts %s)", at, got, tel, want)
			}
		}
	})
}
