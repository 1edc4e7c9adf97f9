package wire

import (
	"time"

	"github.com/tollgate-iot/tollgate/shared/ident"
	"github.com/tollgate-iot/tollgate/shared/limits"
)

// Bounds of enrollment code requests; the server applies its own too.
const (
	// MaxEnrollmentUses caps uses (0: no limit).
	MaxEnrollmentUses = 1_000_000
	// MaxEnrollmentSeconds caps expires_in_seconds (0: never): five years.
	MaxEnrollmentSeconds = 5 * 366 * 24 * 3600
)

// CreateEnrollmentRequest makes an enrollment code (POST /v1/enrollments):
// devices that redeem it register themselves under the customer.
type CreateEnrollmentRequest struct {
	CustomerID string `json:"customer_id"`
	// Models limits the devices that may enroll (patterns); empty: any.
	Models []string `json:"models,omitempty"`
	// Uses caps the devices that may enroll; 0: no limit.
	Uses int64 `json:"uses"`
	// ExpiresInSeconds ends the code that long after creation; 0: never.
	ExpiresInSeconds int64 `json:"expires_in_seconds"`
	// LicensePool makes each enrolling device take an unused license of
	// the customer that fits its model (paid before trial, oldest first).
	LicensePool bool `json:"license_pool"`
}

// Validate checks the request's fields.
func (r *CreateEnrollmentRequest) Validate() error {
	if err := checkID("customer_id", r.CustomerID, false); err != nil {
		return err
	}
	if len(r.Models) > limits.MaxModelPatterns {
		return invalid("models: at most %d patterns", limits.MaxModelPatterns)
	}
	for _, m := range r.Models {
		if err := ident.CheckModelPattern(m); err != nil {
			return invalid("models: %v", err)
		}
	}
	if r.Uses < 0 || r.Uses > MaxEnrollmentUses {
		return invalid("uses must be 0 (no limit) .. %d", MaxEnrollmentUses)
	}
	if r.ExpiresInSeconds < 0 || r.ExpiresInSeconds > MaxEnrollmentSeconds {
		return invalid("expires_in_seconds must be 0 (never) .. %d", MaxEnrollmentSeconds)
	}
	return nil
}

// Enrollment is an enrollment code's record. Code is set only in the
// answer that created it: the server keeps only its hash.
type Enrollment struct {
	ID          string     `json:"id"`
	CustomerID  string     `json:"customer_id"`
	Models      []string   `json:"models"`
	Uses        int64      `json:"uses"`
	MaxUses     int64      `json:"max_uses"`
	ExpiresAt   *time.Time `json:"expires_at"`
	LicensePool bool       `json:"license_pool"`
	Revoked     bool       `json:"revoked"`
	// Status is active, expired, used_up or revoked.
	Status string `json:"status"`
	// Hint is the start of the code, to tell codes apart.
	Hint      string    `json:"hint"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
	Code      string    `json:"code,omitempty"`
}

// EnrollmentList is GET /v1/enrollments.
type EnrollmentList struct {
	Enrollments []Enrollment `json:"enrollments"`
}
