package wire

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/tollgate-iot/tollgate/shared/ident"
)

// TelemetryVersion is the envelope format version.
const TelemetryVersion = 1

// MaxTelemetryBytes caps an envelope as a consumer reads it.
const MaxTelemetryBytes = 64 << 10

// TelemetryTopic returns the MQTT topic a device's samples are published on
// (docs/api.md): tollgate/v1/CUSTOMER_ID/DEVICE_ID/telemetry.
func TelemetryTopic(customerID, deviceID string) string {
	return "tollgate/v1/" + customerID + "/" + deviceID + "/telemetry"
}

// ControlTopic returns the topic on which the server pushes signed
// documents (revocation lists, tokens) to one device:
// tollgate/v1/CUSTOMER_ID/DEVICE_ID/control.
func ControlTopic(customerID, deviceID string) string {
	return "tollgate/v1/" + customerID + "/" + deviceID + "/control"
}

// Telemetry is the JSON envelope of one published sample. Seq is the
// device's sample sequence: it grows by one per accepted sample and is never
// reused, so a consumer drops a redelivered sample by (device_id, seq).
type Telemetry struct {
	V          int             `json:"v"`
	DeviceID   string          `json:"device_id"`
	CustomerID string          `json:"customer_id"`
	LicenseID  string          `json:"license_id"`
	Seq        int64           `json:"seq"`
	TS         string          `json:"ts"`
	DeviceTS   string          `json:"device_ts,omitempty"`
	Overage    bool            `json:"overage,omitempty"`
	Data       json.RawMessage `json:"data"`
}

// AppendTelemetry appends the envelope's JSON to dst without reflection:
// the publisher builds one per sample. Ids and times must already be
// validated (ident alphabet, RFC 3339: plain ASCII, for which Go quoting is
// JSON quoting); data must be a validated JSON object.
func AppendTelemetry(dst []byte, t *Telemetry) []byte {
	dst = append(dst, `{"v":`...)
	dst = strconv.AppendInt(dst, int64(t.V), 10)
	dst = appendField(dst, "device_id", t.DeviceID)
	dst = appendField(dst, "customer_id", t.CustomerID)
	dst = appendField(dst, "license_id", t.LicenseID)
	dst = append(dst, `,"seq":`...)
	dst = strconv.AppendInt(dst, t.Seq, 10)
	dst = appendField(dst, "ts", t.TS)
	if t.DeviceTS != "" {
		dst = appendField(dst, "device_ts", t.DeviceTS)
	}
	if t.Overage {
		dst = append(dst, `,"overage":true`...)
	}
	dst = append(dst, `,"data":`...)
	dst = append(dst, t.Data...)
	return append(dst, '}')
}

func appendField(dst []byte, name, val string) []byte {
	dst = append(dst, ',', '"')
	dst = append(dst, name...)
	dst = append(dst, '"', ':')
	return strconv.AppendQuote(dst, val)
}

// ParseTelemetry strictly decodes an envelope as a consumer receives it.
func ParseTelemetry(b []byte) (*Telemetry, error) {
	if len(b) > MaxTelemetryBytes {
		return nil, fmt.Errorf("telemetry: %d bytes, at most %d", len(b), MaxTelemetryBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var t Telemetry
	if err := dec.Decode(&t); err != nil {
		return nil, fmt.Errorf("telemetry: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("telemetry: trailing data")
	}
	if t.V != TelemetryVersion {
		return nil, fmt.Errorf("telemetry: version %d", t.V)
	}
	if err := ident.CheckID("device_id", t.DeviceID); err != nil {
		return nil, fmt.Errorf("telemetry: %w", err)
	}
	if err := ident.CheckID("customer_id", t.CustomerID); err != nil {
		return nil, fmt.Errorf("telemetry: %w", err)
	}
	if err := ident.CheckID("license_id", t.LicenseID); err != nil {
		return nil, fmt.Errorf("telemetry: %w", err)
	}
	if t.DeviceTS != "" {
		if _, err := time.Parse(time.RFC3339Nano, t.DeviceTS); err != nil {
			return nil, fmt.Errorf("telemetry: device_ts: %w", err)
		}
	}
	if t.Seq < 1 {
		return nil, fmt.Errorf("telemetry: seq %d", t.Seq)
	}
	if _, err := time.Parse(time.RFC3339Nano, t.TS); err != nil {
		return nil, fmt.Errorf("telemetry: ts: %w", err)
	}
	if len(t.Data) == 0 || t.Data[0] != '{' {
		return nil, fmt.Errorf("telemetry: data must be a JSON object")
	}
	return &t, nil
}
