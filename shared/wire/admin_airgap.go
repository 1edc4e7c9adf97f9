package wire

import (
	"strings"
	"time"

	"github.com/tollgate-iot/tollgate/shared/limits"
)

// Bounds of the air-gap endpoints (docs/design.md#air-gapped-sites).
const (
	// MaxActivationRequestBytes caps the armored activation request text in
	// an OfflineActivationRequest. A real request (device id, model, public
	// key, signature) is well under 1 KiB.
	MaxActivationRequestBytes = 16 << 10
	// MaxUsageReceiptBytes caps a usage receipt body: an armored file.
	MaxUsageReceiptBytes = limits.MaxAirgapFileBytes
)

// OfflineActivationRequest asks for an activation key for an air-gapped
// device (POST /v1/activations/offline): the armored activation request
// file the device wrote, and the license to bind (id or serial).
type OfflineActivationRequest struct {
	Request   string `json:"request"`
	LicenseID string `json:"license_id"`
}

// Validate checks the request on its own; the server verifies the file.
func (r *OfflineActivationRequest) Validate() error {
	if strings.TrimSpace(r.Request) == "" {
		return invalid("request is required (the armored activation request file)")
	}
	if len(r.Request) > MaxActivationRequestBytes {
		return invalid("request is %d bytes, at most %d", len(r.Request), MaxActivationRequestBytes)
	}
	return checkID("license_id", r.LicenseID, true)
}

// ActivationKey is a signed activation key for an air-gapped device and
// what it carries (POST /v1/activations/offline and
// POST /v1/devices/{id}/activation-key).
type ActivationKey struct {
	DeviceID string `json:"device_id"`
	// DeviceCreated reports that the activation request registered the device.
	DeviceCreated bool `json:"device_created"`
	// License is the license bound (offline activation only).
	License *License `json:"license,omitempty"`
	Seq     int64    `json:"seq"`
	// DeviceKey is the fingerprint of the device's public key.
	DeviceKey        string `json:"device_key"`
	TrustFingerprint string `json:"trust_fingerprint"`
	// Tokens is how many license tokens the key carries.
	Tokens        int       `json:"tokens"`
	RevocationSeq int64     `json:"revocation_seq"`
	IssuedAt      time.Time `json:"issued_at"`
	// ExpiresAt is when the device stops accepting the key.
	ExpiresAt time.Time `json:"expires_at"`
	// File is the armored activation key, to write to a file as is.
	File string `json:"file"`
}

// UsageImport is what importing a usage receipt did (POST /v1/usage/import):
// the device's reconciliation summary after the import.
type UsageImport struct {
	DeviceID string `json:"device_id"`
	Nonce    string `json:"nonce"`
	// Duplicate reports a receipt imported before: nothing was applied.
	Duplicate  bool       `json:"duplicate"`
	Deductions int        `json:"deductions"`
	Counts     int        `json:"counts"`
	AckedSeq   int64      `json:"acked_seq"`
	HighestSeq int64      `json:"highest_seq"`
	Gaps       []SeqRange `json:"gaps"`
	// Forks and Overdrafts are the device's totals; NewForks and
	// NewOverdrafts are what this import added.
	Forks         int64 `json:"forks"`
	NewForks      int64 `json:"new_forks"`
	Overdrafts    int64 `json:"overdrafts"`
	NewOverdrafts int64 `json:"new_overdrafts"`
}
