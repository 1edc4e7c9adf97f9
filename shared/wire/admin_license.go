package wire

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/tollgate-iot/tollgate/shared/ident"
	"github.com/tollgate-iot/tollgate/shared/limits"
)

// License is a license as the caller may see it. The distributor
// description is empty for callers outside the issuing chain.
type License struct {
	ID                     string     `json:"id"`
	Serial                 string     `json:"serial"`
	CustomerID             string     `json:"customer_id"`
	Type                   string     `json:"type"`
	Billing                string     `json:"billing"`
	Status                 string     `json:"status"`
	DeviceID               string     `json:"device_id"`
	Models                 []string   `json:"models"`
	MaxSamplesPerHour      int64      `json:"max_samples_per_hour"`
	Enforcement            string     `json:"enforcement"`
	Features               []string   `json:"features"`
	MaxChildren            int64      `json:"max_children"`
	StartAtChildren        int64      `json:"start_at_children"`
	MaxOfflineSeconds      int64      `json:"max_offline_seconds"`
	Months                 int        `json:"months,omitempty"`
	RetentionDays          int        `json:"retention_days"`
	Renew                  bool       `json:"renew"`
	RenewEndsAt            *time.Time `json:"renew_ends_at,omitempty"`
	CancellationDays       int        `json:"cancellation_days"`
	Alignment              string     `json:"alignment"`
	Locked                 bool       `json:"locked"`
	TotalDays              int64      `json:"total_days"`
	AvailableDays          int64      `json:"available_days"`
	PaidUntil              *time.Time `json:"paid_until,omitempty"`
	ActivatedAt            *time.Time `json:"activated_at"`
	Start                  *time.Time `json:"start"`
	End                    *time.Time `json:"end"`
	CreatedAt              time.Time  `json:"created_at"`
	Version                int64      `json:"version"`
	DistributorDescription string     `json:"distributor_description,omitempty"`
	CustomerDescription    string     `json:"customer_description"`
	TransferredTo          string     `json:"transferred_to,omitempty"`
	TransferredFrom        string     `json:"transferred_from,omitempty"`
	// IssuedBy is the issuer that created the license (empty for a
	// customer's automatic trial); Origin is the highest customer a return
	// may move it to.
	IssuedBy string `json:"issued_by"`
	Origin   string `json:"origin"`
}

// LicenseList is one page of licenses.
type LicenseList struct {
	Licenses   []License `json:"licenses"`
	NextCursor string    `json:"next_cursor,omitempty"`
}

// CreateLicenseRequest creates Count identical licenses.
type CreateLicenseRequest struct {
	CustomerID             string   `json:"customer_id"`
	Type                   string   `json:"type"`
	Billing                string   `json:"billing"`
	Months                 int      `json:"months,omitempty"`
	Days                   int64    `json:"days,omitempty"`
	Models                 []string `json:"models"`
	MaxSamplesPerHour      int64    `json:"max_samples_per_hour,omitempty"`
	Enforcement            string   `json:"enforcement,omitempty"`
	Features               []string `json:"features,omitempty"`
	MaxChildren            int64    `json:"max_children,omitempty"`
	StartAtChildren        int64    `json:"start_at_children,omitempty"`
	MaxOfflineSeconds      *int64   `json:"max_offline_seconds,omitempty"`
	RetentionDays          int      `json:"retention_days,omitempty"`
	Renew                  *bool    `json:"renew,omitempty"`
	CancellationDays       int      `json:"cancellation_days,omitempty"`
	Alignment              string   `json:"alignment,omitempty"`
	DistributorDescription string   `json:"distributor_description,omitempty"`
	CustomerDescription    string   `json:"customer_description,omitempty"`
	Count                  int      `json:"count,omitempty"`
}

// Validate checks the request's syntax; the server checks the rules.
func (r *CreateLicenseRequest) Validate() error {
	if err := checkID("customer_id", r.CustomerID, true); err != nil {
		return err
	}
	if r.Type != "standard" && r.Type != "trial" {
		return invalid("type %q: want standard or trial", r.Type)
	}
	if r.Billing != "term" && r.Billing != "days" {
		return invalid("billing %q: want term or days", r.Billing)
	}
	if r.Count < 0 || r.Count > MaxBatch {
		return invalid("count %d out of 1..%d", r.Count, MaxBatch)
	}
	if r.Months < 0 || r.Days < 0 || r.MaxSamplesPerHour < 0 || r.MaxChildren < 0 || r.StartAtChildren < 0 || r.RetentionDays < 0 || r.CancellationDays < 0 {
		return invalid("counts and limits cannot be negative")
	}
	if r.Days > limits.MaxPrepaidDays || r.MaxSamplesPerHour > limits.MaxSamplesPerHour {
		return invalid("days or max_samples_per_hour too large")
	}
	if r.MaxOfflineSeconds != nil && *r.MaxOfflineSeconds < 0 {
		return invalid("max_offline_seconds cannot be negative")
	}
	if len(r.Models) == 0 || len(r.Models) > limits.MaxModelPatterns {
		return invalid("models must list 1..%d patterns", limits.MaxModelPatterns)
	}
	for _, m := range r.Models {
		if err := ident.CheckModelPattern(m); err != nil {
			return invalid("%v", err)
		}
	}
	if len(r.Features) > limits.MaxFeatures {
		return invalid("at most %d features", limits.MaxFeatures)
	}
	for _, f := range r.Features {
		if err := ident.CheckFeature(f); err != nil {
			return invalid("%v", err)
		}
	}
	if err := checkText("distributor_description", r.DistributorDescription, MaxTextLen); err != nil {
		return err
	}
	return checkText("customer_description", r.CustomerDescription, MaxTextLen)
}

// ImmutableLicenseFields are fixed at creation (docs/design.md#fields-and-immutability): a different value
// means a new license.
var ImmutableLicenseFields = []string{"type", "billing", "models", "max_samples_per_hour", "months", "retention_days"}

// UpdateLicenseRequest changes the editable fields of a license.
type UpdateLicenseRequest struct {
	CustomerDescription    *string `json:"customer_description,omitempty"`
	DistributorDescription *string `json:"distributor_description,omitempty"`

	// Immutable fields are accepted by the decoder only to be refused by
	// name in Validate (ErrImmutable) rather than as unknown fields.
	Type              json.RawMessage `json:"type,omitempty"`
	Billing           json.RawMessage `json:"billing,omitempty"`
	Models            json.RawMessage `json:"models,omitempty"`
	MaxSamplesPerHour json.RawMessage `json:"max_samples_per_hour,omitempty"`
	Months            json.RawMessage `json:"months,omitempty"`
	RetentionDays     json.RawMessage `json:"retention_days,omitempty"`
}

// ErrImmutable reports an attempt to change a field fixed at creation.
var ErrImmutable = fmt.Errorf("field is immutable")

// Validate checks the request on its own.
func (r *UpdateLicenseRequest) Validate() error {
	for i, raw := range []json.RawMessage{r.Type, r.Billing, r.Models, r.MaxSamplesPerHour, r.Months, r.RetentionDays} {
		if raw != nil {
			return fmt.Errorf("%w: %s is fixed at creation; create a new license instead", ErrImmutable, ImmutableLicenseFields[i])
		}
	}
	if r.CustomerDescription == nil && r.DistributorDescription == nil {
		return invalid("nothing to change")
	}
	for _, d := range []*string{r.CustomerDescription, r.DistributorDescription} {
		if d != nil {
			if err := checkText("description", *d, MaxTextLen); err != nil {
				return err
			}
		}
	}
	return nil
}

// BindRequest binds a license to a device.
type BindRequest struct {
	DeviceID       string `json:"device_id"`
	ExpireReplaced bool   `json:"expire_replaced,omitempty"`
}

// Validate checks the request on its own.
func (r *BindRequest) Validate() error { return checkID("device_id", r.DeviceID, true) }

// BindResponse is the bound license, what it replaced and its new token
// (absent while a capacity license is pending_start: it has none yet).
type BindResponse struct {
	License  License       `json:"license"`
	Replaced []License     `json:"replaced"`
	Token    *LicenseToken `json:"token,omitempty"`
}

// CustomerRef names a target customer (move, transfer).
type CustomerRef struct {
	To string `json:"to"`
}

// Validate checks the request on its own.
func (r *CustomerRef) Validate() error { return checkID("to", r.To, true) }

// TransferResponse is the superseded license and the new one.
type TransferResponse struct {
	Old License `json:"old"`
	New License `json:"new"`
}

// RenewRequest switches renewal.
type RenewRequest struct {
	Renew *bool `json:"renew"`
}

// Validate checks the request on its own.
func (r *RenewRequest) Validate() error {
	if r.Renew == nil {
		return invalid("renew (true or false) is required")
	}
	return nil
}

// AddDaysRequest tops up a day license.
type AddDaysRequest struct {
	Days int64 `json:"days"`
}

// Validate checks the request on its own.
func (r *AddDaysRequest) Validate() error {
	if r.Days < 1 || r.Days > limits.MaxPrepaidDays {
		return invalid("days %d out of 1..%d", r.Days, limits.MaxPrepaidDays)
	}
	return nil
}

// BatchRequest sells licenses to a direct sub-customer (Customer is the
// buyer) or returns them to the parent (Customer is the one returning,
// default the caller's), by ids or by count.
type BatchRequest struct {
	Customer string   `json:"customer_id,omitempty"`
	IDs      []string `json:"ids,omitempty"`
	Count    int      `json:"count,omitempty"`
	Type     string   `json:"type,omitempty"`
}

// Validate checks the request on its own.
func (r *BatchRequest) Validate() error {
	if err := checkID("customer_id", r.Customer, false); err != nil {
		return err
	}
	if (len(r.IDs) == 0) == (r.Count == 0) {
		return invalid("give either ids or a count")
	}
	if r.Count < 0 || r.Count > MaxBatch || len(r.IDs) > MaxBatch {
		return invalid("a batch is 1..%d licenses", MaxBatch)
	}
	for _, id := range r.IDs {
		if err := checkID("ids", id, true); err != nil {
			return err
		}
	}
	if r.Type != "" && r.Type != "standard" && r.Type != "trial" {
		return invalid("type %q", r.Type)
	}
	return nil
}

// Sale is one sales record.
type Sale struct {
	ID         int64     `json:"id"`
	Kind       string    `json:"kind"`
	From       string    `json:"from"`
	To         string    `json:"to"`
	LicenseIDs []string  `json:"license_ids"`
	At         time.Time `json:"at"`
	By         string    `json:"by"`
}

// SaleList is one page of sales records.
type SaleList struct {
	Sales      []Sale `json:"sales"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// Deduction is one day charged (or a failed attempt).
type Deduction struct {
	Seq       int64  `json:"seq"`
	DeviceID  string `json:"device_id"`
	LicenseID string `json:"license_id"`
	// At is when the server charged the day: the device's time for it,
	// never after the server's time at receipt.
	At time.Time `json:"at"`
	// ReportedAt is the device's own time for the day, when it differs
	// from At (a device clock ahead of the server's).
	ReportedAt *time.Time `json:"reported_at,omitempty"`
	// PaidUntil ends the 24 hours the day bought, as the server computed it.
	PaidUntil  *time.Time `json:"paid_until,omitempty"`
	DaysBefore int64      `json:"days_before"`
	DaysAfter  int64      `json:"days_after"`
	Failed     bool       `json:"failed"`
	// Fork marks the charge of a day the device used a second time (a
	// restored or cloned agent reusing a seq): see the device's sync forks.
	Fork bool `json:"fork,omitempty"`
}

// DeductionList lists deductions.
type DeductionList struct {
	Deductions []Deduction `json:"deductions"`
}

// AuditEntry is one change.
type AuditEntry struct {
	Seq        int64           `json:"seq"`
	At         time.Time       `json:"at"`
	UserID     string          `json:"user_id"`
	ActorOf    string          `json:"actor_customer_id"`
	Action     string          `json:"action"`
	ObjectType string          `json:"object_type"`
	ObjectID   string          `json:"object_id"`
	CustomerID string          `json:"customer_id"`
	Before     json.RawMessage `json:"before,omitempty"`
	After      json.RawMessage `json:"after,omitempty"`
}

// AuditList is one page of audit entries, newest first.
type AuditList struct {
	Entries    []AuditEntry `json:"entries"`
	NextCursor string       `json:"next_cursor,omitempty"`
}

// LicenseToken is the current signed token of a bound license.
type LicenseToken struct {
	LicenseID string    `json:"license_id"`
	DeviceID  string    `json:"device_id"`
	Version   int64     `json:"version"`
	NotAfter  time.Time `json:"not_after"`
	Token     string    `json:"token"`
}

// TokenList lists a device's current tokens.
type TokenList struct {
	DeviceID string         `json:"device_id"`
	Tokens   []LicenseToken `json:"tokens"`
}

// RevocationHead is the current revocation-list sequence and its times;
// it names no ids.
type RevocationHead struct {
	Seq        int64     `json:"seq"`
	IssuedAt   time.Time `json:"issued_at"`
	NextUpdate time.Time `json:"next_update"`
}

// RevocationList is the current revocation list of one device, signed for
// it; the counts are the lengths of its lists.
type RevocationList struct {
	DeviceID   string    `json:"device_id"`
	Seq        int64     `json:"seq"`
	IssuedAt   time.Time `json:"issued_at"`
	NextUpdate time.Time `json:"next_update"`
	Revoked    int       `json:"revoked"`
	Suspended  int       `json:"suspended"`
	Blacklist  int       `json:"blacklisted"`
	Superseded int       `json:"superseded"`
	Token      string    `json:"token"`
}
