package ledger

import (
	"encoding/json"
	"time"
)

// Role is what a user may do within the customers it can see.
type Role string

// The roles of docs/design.md#actors.
const (
	RoleAdmin    Role = "admin"    // everything in the subtree, as limited by allow_superior_manage
	RoleOperator Role = "operator" // bind, unbind and read
	RoleViewer   Role = "viewer"   // read only
)

// Valid reports whether r is one of the roles.
func (r Role) Valid() bool { return r == RoleAdmin || r == RoleOperator || r == RoleViewer }

// Actor is who performs an action: an authenticated user, or the server
// itself (scheduler, init) with SystemActor.
type Actor struct {
	UserID     string
	CustomerID string
	Role       Role
	system     bool
}

// SystemActor returns the actor of the server's own changes (renewals,
// expiries, bootstrap). It is never the result of authentication.
func SystemActor() Actor { return Actor{UserID: "system", Role: RoleAdmin, system: true} }

// Customer is one node of the customer tree.
type Customer struct {
	ID                  string   `json:"id"`
	Name                string   `json:"name"`
	ParentID            string   `json:"parent_id"`
	Path                []string `json:"path"` // ancestors, root first; empty for the root
	Email               string   `json:"email"`
	Address             string   `json:"address"`
	VAT                 string   `json:"vat"`
	AllowSuperiorManage bool     `json:"allow_superior_manage"`
	// Issuer is the right to create licenses and add days, granted by the
	// vendor only (issuers.go); IssuerLimits bound what it creates. The
	// vendor root always has the right, without limits.
	Issuer       bool         `json:"issuer"`
	IssuerLimits IssuerLimits `json:"issuer_limits"`
	CreatedAt    time.Time    `json:"created_at"`
}

// User acts for one customer with one role, authenticated by an API key of
// which only the SHA-256 is stored.
type User struct {
	ID         string    `json:"id"`
	CustomerID string    `json:"customer_id"`
	Email      string    `json:"email"`
	Role       Role      `json:"role"`
	KeyHash    string    `json:"key_hash,omitempty"`
	Revoked    bool      `json:"revoked"`
	CreatedAt  time.Time `json:"created_at"`
}

// Device is a device or gateway with its Ed25519 identity.
type Device struct {
	ID              string    `json:"id"`
	CustomerID      string    `json:"customer_id"`
	Model           string    `json:"model"`
	PublicKey       string    `json:"public_key"`
	KeyFingerprint  string    `json:"key_fingerprint"`
	GatewayID       string    `json:"gateway_id"`
	Location        string    `json:"location"`
	Blacklisted     bool      `json:"blacklisted"`
	BlacklistReason string    `json:"blacklist_reason"`
	LastSeq         int64     `json:"last_seq"` // highest deduction sequence accounted
	CreatedAt       time.Time `json:"created_at"`
}

// Status is a license's derived state (docs/design.md#status); it is never stored.
type Status string

// The statuses, exactly as docs/design.md#status names them.
const (
	StatusUnused   Status = "unused"
	StatusInactive Status = "inactive"
	// StatusPendingStart is a capacity license bound to a device that has
	// not yet reached its start condition (docs/design.md#capacity-licenses): it
	// neither counts time nor pays days, and has no token yet.
	StatusPendingStart Status = "pending_start"
	StatusActive       Status = "active"
	StatusDeactivated  Status = "deactivated"
	StatusExpired      Status = "expired"
	StatusSuspended    Status = "suspended"
	StatusRevoked      Status = "revoked"
	StatusTransferred  Status = "transferred"
)

// ValidStatus reports whether s names a status.
func ValidStatus(s string) bool {
	switch Status(s) {
	case StatusUnused, StatusInactive, StatusPendingStart, StatusActive, StatusDeactivated, StatusExpired,
		StatusSuspended, StatusRevoked, StatusTransferred:
		return true
	}
	return false
}

// Expiry alignments.
const (
	AlignAnniversary  = "anniversary"
	AlignCalendarYear = "calendar_year"
	AlignFiscalPrefix = "fiscal_year:"
)

// License is one license record. Status is derived by Status(now).
type License struct {
	ID                string   `json:"id"`
	Serial            string   `json:"serial"`
	CustomerID        string   `json:"customer_id"`
	Type              string   `json:"type"`
	Billing           string   `json:"billing"`
	Models            []string `json:"models"`
	MaxSamplesPerHour int64    `json:"max_samples_per_hour"`
	Enforcement       string   `json:"enforcement"`
	Features          []string `json:"features"`
	MaxChildren       int64    `json:"max_children"`
	// StartAtChildren makes a capacity license: it starts counting (term,
	// trial, days) only when its device first has this many registered
	// child devices. 0: an ordinary license.
	StartAtChildren   int64 `json:"start_at_children,omitempty"`
	MaxOfflineSeconds int64 `json:"max_offline_seconds"`
	DurationMonths    int   `json:"duration_months"`
	RetentionDays     int   `json:"retention_days"`
	TotalDays         int64 `json:"total_days"`
	AvailableDays     int64 `json:"available_days"`
	// PaidUntil ends the 24 hours bought by the last day deducted.
	PaidUntil time.Time `json:"paid_until,omitzero"`

	Renew bool `json:"renew"`
	// NoRenewFrom is the period end from which a switched-off renewal
	// takes effect; a switch-off inside the cancellation period defers it
	// by one period. Zero when renew is on or was off from the start.
	NoRenewFrom      time.Time `json:"no_renew_from,omitzero"`
	CancellationDays int       `json:"cancellation_days"`
	Alignment        string    `json:"alignment"`

	DistributorDescription string `json:"distributor_description"`
	// DescribedBy is the customer whose admin wrote the distributor
	// description; it and its ancestors (and the vendor) may read it, even
	// after the license has moved further down the tree.
	DescribedBy         string `json:"described_by"`
	CustomerDescription string `json:"customer_description"`

	// IssuedBy is the customer whose issuer right created the license (the
	// vendor root for the vendor's own), kept through moves and transfers
	// for billing; empty for a customer's automatic trial, which the
	// system gives.
	IssuedBy string `json:"issued_by"`
	// Origin is the highest customer the license came down from: a return
	// moves it no higher (issuers.go). The issuer for a created license,
	// the customer itself for its automatic trial.
	Origin string `json:"origin"`

	Locked      bool      `json:"locked"`
	DeviceID    string    `json:"device_id"`
	BoundAt     time.Time `json:"bound_at,omitzero"`
	ActivatedAt time.Time `json:"activated_at,omitzero"`
	Start       time.Time `json:"start,omitzero"`
	End         time.Time `json:"end,omitzero"`
	CreatedAt   time.Time `json:"created_at,omitzero"`
	Version     int64     `json:"version"`
	Suspended   bool      `json:"suspended"`
	Revoked     bool      `json:"revoked"`
	// SuspendedAt and RevokedAt are the instants of the current suspension
	// and of the revocation: a day deduction made before them is still
	// charged when it is reported later (deductions.go canPayDayAt). Zero
	// for a license suspended or revoked before the fields existed: at an
	// unknown time, so no deduction is judged before it. SuspendedAt stays
	// set when a suspended license is revoked (it was denied since then).
	SuspendedAt     time.Time `json:"suspended_at,omitzero"`
	RevokedAt       time.Time `json:"revoked_at,omitzero"`
	TransferredTo   string    `json:"transferred_to"`
	TransferredFrom string    `json:"transferred_from"`
	// NoticeEnd and NoticeStage record how far the notice schedule of an
	// end has gone (notices.go): NoticeStage notices of the schedule of
	// NoticeEnd are issued. NoticeDue is when the next one falls due
	// (zero: none), the key of the license's notice index entry.
	NoticeEnd   time.Time `json:"notice_end,omitzero"`
	NoticeStage int       `json:"notice_stage,omitempty"`
	NoticeDue   time.Time `json:"notice_due,omitzero"`
	// TokenUntil is the latest NotAfter of any token issued for the
	// license: a revoked id stays in the revocation list until then.
	TokenUntil int64 `json:"token_until"`
	// ExpiryRecorded is set once the scheduler has logged the expiry.
	ExpiryRecorded bool `json:"expiry_recorded"`
}

// Deduction is one day charged to a license for a device, or a failed
// attempt (LicenseID empty, Failed true) that blacklisted the device.
type Deduction struct {
	Seq       int64  `json:"seq"`
	DeviceID  string `json:"device_id"`
	LicenseID string `json:"license_id"`
	// At is when the ledger charged the day: the device's time for it,
	// but never after the server's time at receipt, nor before the
	// license was bound (chargeTime).
	At time.Time `json:"at"`
	// ReportedAt is the device's time for the day when At differs from
	// it (a device clock ahead of the server's, or one dating the day
	// before its license was bound).
	ReportedAt time.Time `json:"reported_at,omitzero"`
	// PaidUntil ends the 24 hours this day bought, as the ledger computed
	// it: whatever the device claims is not used.
	PaidUntil  time.Time `json:"paid_until,omitzero"`
	DaysBefore int64     `json:"days_before"`
	DaysAfter  int64     `json:"days_after"`
	Failed     bool      `json:"failed"`
	// Fork is set on the charge of a forked day (a seq the device used
	// twice, Fork): the digest of the forked record. Such a charge is
	// kept with its fork, not under the device's seq.
	Fork string `json:"fork,omitempty"`
}

// Sale kinds.
const (
	SaleSell        = "sell"
	SaleReturn      = "return"
	SaleTransfer    = "transfer"
	SaleMove        = "move"
	SaleBindHandoff = "bind_handoff"
)

// Sale records a move of licenses between customers.
type Sale struct {
	ID         int64     `json:"id"`
	Kind       string    `json:"kind"`
	From       string    `json:"from"`
	To         string    `json:"to"`
	LicenseIDs []string  `json:"license_ids"`
	At         time.Time `json:"at"`
	By         string    `json:"by"` // user id
}

// AuditEntry is one change: who, what, when, before and after.
type AuditEntry struct {
	Seq        int64           `json:"seq"`
	At         time.Time       `json:"at"`
	UserID     string          `json:"user_id"`
	ActorOf    string          `json:"actor_customer_id"`
	Action     string          `json:"action"`
	ObjectType string          `json:"object_type"`
	ObjectID   string          `json:"object_id"`
	CustomerID string          `json:"customer_id"` // owner of the object: decides who sees the entry
	Before     json.RawMessage `json:"before,omitempty"`
	After      json.RawMessage `json:"after,omitempty"`
}

// LicenseToken is the current signed token of a bound license.
type LicenseToken struct {
	LicenseID string    `json:"license_id"`
	DeviceID  string    `json:"device_id"`
	Version   int64     `json:"version"`
	NotAfter  time.Time `json:"not_after"`
	Token     string    `json:"token"`
}

// SignedRevocationList is the current revocation list of one device and
// its text form.
type SignedRevocationList struct {
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

func unixTime(s int64) time.Time { return time.Unix(s, 0).UTC() }
