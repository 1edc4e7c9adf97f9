package wire

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestSampleValidate(t *testing.T) {
	tests := []struct {
		name string
		s    Sample
		ok   bool
	}{
		{"ok", Sample{DeviceID: "pump-1", TS: "2026-12-01T00:00:00Z", Data: json.RawMessage(`{"t":1}`)}, true},
		{"ok/no-device", Sample{Data: json.RawMessage(`{}`)}, true},
		{"error/bad-device", Sample{DeviceID: "a/b", Data: json.RawMessage(`{}`)}, false},
		{"error/bad-ts", Sample{TS: "yesterday", Data: json.RawMessage(`{}`)}, false},
		{"error/no-data", Sample{}, false},
		{"error/array-data", Sample{Data: json.RawMessage(`[1]`)}, false},
		{"error/too-large", Sample{Data: json.RawMessage(`{"x":"0123456789"}`)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.s.Validate(16)
			if (err == nil) != tt.ok {
				t.Fatalf("Validate = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidSample) {
				t.Fatalf("error %v is not ErrInvalidSample", err)
			}
		})
	}
}

func TestTelemetryRoundTrip(t *testing.T) {
	in := Telemetry{V: 1, DeviceID: "pump-1", CustomerID: "acme", LicenseID: "lic-1",
		Seq: 42, TS: "2026-12-01T00:00:00.5Z", DeviceTS: "2026-12-01T00:00:00Z", Overage: true,
		Data: json.RawMessage(`{"t":1}`)}
	b := AppendTelemetry(nil, &in)
	out, err := ParseTelemetry(b)
	if err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	if out.Seq != 42 || out.LicenseID != in.LicenseID || !out.Overage || string(out.Data) != `{"t":1}` {
		t.Fatalf("round trip = %+v", out)
	}
	if TelemetryTopic("acme", "pump-1") != "tollgate/v1/acme/pump-1/telemetry" {
		t.Fatal("topic scheme changed")
	}
}

func FuzzParseTelemetry(f *testing.F) {
	f.Add(AppendTelemetry(nil, &Telemetry{V: 1, DeviceID: "d", CustomerID: "c", LicenseID: "l", Seq: 1, TS: "2026-12-01T00:00:00Z", Data: json.RawMessage(`{}`)}))
	f.Add([]byte(`{"v":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		tel, err := ParseTelemetry(b)
		if err != nil {
			return
		}
		again, err := ParseTelemetry(AppendTelemetry(nil, tel))
		if err != nil || again.Seq != tel.Seq || again.DeviceID != tel.DeviceID {
			t.Fatalf("re-encoded envelope does not parse the same: %v", err)
		}
	})
}
