package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/tollgate-iot/tollgate/firmware-sim/internal/limits"
)

// Status is the part of an agent's GET /v1/status that firmware-sim reads
// (docs/api.md `status -o json`; docs/agent.md).
type Status struct {
	Device
	Refused  map[string]int64 `json:"refused"`
	Queue    Queue            `json:"queue"`
	Children []Device         `json:"children"`
}

// Device is one device's enforcement state.
type Device struct {
	DeviceID        string    `json:"device_id"`
	Model           string    `json:"model"`
	Blacklisted     bool      `json:"blacklisted"`
	BlacklistReason string    `json:"blacklist_reason"`
	Licenses        []License `json:"licenses"`
	Budget          Budget    `json:"budget"`
	DeductionSeq    int64     `json:"deduction_seq"`
	FailedDays      int64     `json:"failed_days"` // records among deduction_seq that paid nothing
}

// License is one license the agent holds for a device.
type License struct {
	ID                string `json:"id"`
	Serial            string `json:"serial"`
	Status            string `json:"status"`
	Billing           string `json:"billing"`
	MaxSamplesPerHour int64  `json:"max_samples_per_hour"`
	AvailableDays     *int64 `json:"available_days"`
}

// Budget is a device's sample budget and lifetime counts.
type Budget struct {
	Used24h       int64 `json:"used_24h"`
	Limit24h      int64 `json:"limit_24h"`
	AcceptedTotal int64 `json:"accepted_total"`
}

// Queue is the agent's outbox.
type Queue struct {
	Depth   int64 `json:"depth"`
	Dropped int64 `json:"dropped"`
}

// RefusedTotal sums the refusals of every reason.
func (s *Status) RefusedTotal() int64 {
	var n int64
	for _, v := range s.Refused {
		n += v
	}
	return n
}

// Gateway reports whether the agent serves child devices.
func (s *Status) Gateway() bool { return len(s.Children) > 0 }

// ParseStatus decodes a status document, bounded by the caller.
func ParseStatus(b []byte) (*Status, error) {
	var s Status
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrStatus, err)
	}
	if s.DeviceID == "" {
		return nil, fmt.Errorf("%w: no device_id", ErrStatus)
	}
	for _, c := range s.Children {
		if c.DeviceID == "" {
			return nil, fmt.Errorf("%w: a child without device_id", ErrStatus)
		}
	}
	return &s, nil
}

// FetchStatus reads the agent's status.
func (t *Target) FetchStatus(ctx context.Context) (*Status, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.Base+"/v1/status", nil)
	if err != nil {
		return nil, err
	}
	resp, err := t.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrStatus, t.Name, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, limits.MaxStatusBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrStatus, t.Name, err)
	}
	if len(b) > limits.MaxStatusBytes {
		return nil, fmt.Errorf("%w: %s: over %d bytes", ErrStatus, t.Name, limits.MaxStatusBytes)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: %s: HTTP %d: %.200s", ErrStatus, t.Name, resp.StatusCode, b)
	}
	s, err := ParseStatus(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.Name, err)
	}
	return s, nil
}

// ErrNoMetrics reports an agent whose local API has no /metrics (it was
// started with a separate --metrics address).
var ErrNoMetrics = errors.New("no /metrics on the agent's local API")

// FetchMetrics reads the agent's Prometheus text (GET /metrics).
func (t *Target) FetchMetrics(ctx context.Context) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.Base+"/metrics", nil)
	if err != nil {
		return "", err
	}
	resp, err := t.Client.Do(req)
	if err != nil {
		return "", fmt.Errorf("%w: %s: metrics: %v", ErrStatus, t.Name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return "", fmt.Errorf("%w: %s", ErrNoMetrics, t.Name)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limits.MaxStatusBytes+1))
	if err != nil || len(b) > limits.MaxStatusBytes || resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%w: %s: metrics: HTTP %d, %d bytes, %v", ErrStatus, t.Name, resp.StatusCode, len(b), err)
	}
	return string(b), nil
}
