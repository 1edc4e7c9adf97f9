package wire

import (
	"time"

	"github.com/tollgate-iot/tollgate/shared/ident"
)

// Device is a device or gateway.
type Device struct {
	ID              string    `json:"id"`
	CustomerID      string    `json:"customer_id"`
	Model           string    `json:"model"`
	GatewayID       string    `json:"gateway_id"`
	Blacklisted     bool      `json:"blacklisted"`
	BlacklistReason string    `json:"blacklist_reason"`
	PublicKey       string    `json:"public_key"`
	KeyFingerprint  string    `json:"key_fingerprint"`
	Location        string    `json:"location,omitempty"`
	CreatedAt       time.Time `json:"created_at"`
}

// DeviceList is one page of devices.
type DeviceList struct {
	Devices    []Device `json:"devices"`
	NextCursor string   `json:"next_cursor,omitempty"`
}

// CreateDeviceRequest registers a device.
type CreateDeviceRequest struct {
	ID         string `json:"id"`
	CustomerID string `json:"customer_id"`
	Model      string `json:"model"`
	PublicKey  string `json:"public_key"`
	GatewayID  string `json:"gateway_id,omitempty"`
	Location   string `json:"location,omitempty"`
}

// Validate checks the request on its own; the server parses the key.
func (r *CreateDeviceRequest) Validate() error {
	if err := checkID("id", r.ID, true); err != nil {
		return err
	}
	if err := checkID("customer_id", r.CustomerID, true); err != nil {
		return err
	}
	if err := ident.CheckModel(r.Model); err != nil {
		return invalid("%v", err)
	}
	if r.PublicKey == "" || len(r.PublicKey) > 128 {
		return invalid("public_key is required (the text form tollgate-agent init prints)")
	}
	if err := checkID("gateway_id", r.GatewayID, false); err != nil {
		return err
	}
	return checkText("location", r.Location, 256)
}

// BlacklistRequest blacklists a device.
type BlacklistRequest struct {
	Reason string `json:"reason,omitempty"`
}

// Validate checks the request on its own.
func (r *BlacklistRequest) Validate() error { return checkText("reason", r.Reason, 256) }
