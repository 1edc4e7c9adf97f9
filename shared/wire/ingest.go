// Package wire declares the JSON documents that cross a process boundary
// between Tollgate components and are read by more than one of them: the
// agent's local ingest request and answer (docs/api.md, "Local ingest")
// and the telemetry envelope the agent publishes over MQTT. Types are
// declared once here and used by the agent's handler, its clients
// (firmware-sim, tests) and the server's consumers alike.
package wire

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tollgate-iot/tollgate/shared/ident"
)

// ErrInvalidSample reports a sample that breaks the ingest contract.
var ErrInvalidSample = errors.New("invalid sample")

// Refusal reasons of the ingest answer (docs/api.md). They are a public
// contract: add new ones, never rename one.
const (
	ReasonBlacklisted         = "blacklisted"
	ReasonNoLicense           = "no_license"
	ReasonRevoked             = "revoked"
	ReasonSuspended           = "suspended"
	ReasonExpired             = "expired"
	ReasonNotYetValid         = "not_yet_valid"
	ReasonWrongDevice         = "wrong_device"
	ReasonModelMismatch       = "model_mismatch"
	ReasonClockTamper         = "clock_tamper"
	ReasonNoDays              = "no_days"
	ReasonOverBudget          = "over_budget"
	ReasonStaleRevocationList = "stale_revocation_list"
	ReasonQueueFull           = "queue_full"
	// ReasonUnknownDevice refuses a sample for a device that is neither the
	// agent itself nor one of its configured child devices.
	ReasonUnknownDevice = "unknown_device"
	// ReasonInvalidSample refuses one malformed sample of a batch.
	ReasonInvalidSample = "invalid_sample"
	// ReasonStorageError refuses a sample the agent could not store durably.
	ReasonStorageError = "storage_error"
	// ReasonSuperseded refuses a sample whose only license token is of a
	// version the revocation list voids (the license moved on).
	ReasonSuperseded = "superseded"
)

// Sample is one telemetry sample handed to the agent.
type Sample struct {
	// DeviceID may be empty on a single device: the agent's own id.
	DeviceID string `json:"device_id,omitempty"`
	// TS is the device's own timestamp (RFC 3339), optional; the agent
	// stamps its effective time besides it.
	TS string `json:"ts,omitempty"`
	// Data is the sample itself, a JSON object.
	Data json.RawMessage `json:"data"`
}

// IngestRequest is the body of POST /v1/samples: either one sample (the
// embedded fields) or a batch in Samples, never both.
type IngestRequest struct {
	DeviceID string          `json:"device_id,omitempty"`
	TS       string          `json:"ts,omitempty"`
	Data     json.RawMessage `json:"data,omitempty"`
	Samples  []Sample        `json:"samples,omitempty"`
}

// Result is the answer for one sample: accepted with its device sequence
// number, or refused with a reason.
type Result struct {
	Accepted bool   `json:"accepted"`
	Seq      int64  `json:"seq,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

// IngestResponse answers POST /v1/samples, one result per sample in request
// order.
type IngestResponse struct {
	Results []Result `json:"results"`
}

// ErrorBody is the JSON body of a non-200 answer of the agent's local API.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail names an error by a stable code and a human message.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Validate checks one sample against the contract: a valid device id if
// given, an RFC 3339 ts if given, and data that is a JSON object of at most
// maxData bytes.
func (s *Sample) Validate(maxData int) error {
	if s.DeviceID != "" {
		if err := ident.CheckID("device_id", s.DeviceID); err != nil {
			return fmt.Errorf("%w: %v", ErrInvalidSample, err)
		}
	}
	if s.TS != "" {
		if len(s.TS) > 64 {
			return fmt.Errorf("%w: ts is %d bytes", ErrInvalidSample, len(s.TS))
		}
		if _, err := time.Parse(time.RFC3339Nano, s.TS); err != nil {
			return fmt.Errorf("%w: ts %q is not RFC 3339", ErrInvalidSample, s.TS)
		}
	}
	if len(s.Data) == 0 {
		return fmt.Errorf("%w: data is missing", ErrInvalidSample)
	}
	if len(s.Data) > maxData {
		return fmt.Errorf("%w: data is %d bytes, at most %d", ErrInvalidSample, len(s.Data), maxData)
	}
	if s.Data[0] != '{' || !json.Valid(s.Data) {
		return fmt.Errorf("%w: data must be a JSON object", ErrInvalidSample)
	}
	return nil
}
