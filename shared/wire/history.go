package wire

import "time"

// HistoryEntry is one change of a license: what changed, when, and who
// made it (docs/reports.md#license-history).
type HistoryEntry struct {
	Seq  int64     `json:"seq"`
	At   time.Time `json:"at"`
	Kind string    `json:"kind"`
	// Action is the audit action of the change; empty for "seeded".
	Action string `json:"action"`
	// By is user, system or device; UserID the user id (or "system",
	// "device:ID"); ActorOf the customer it acted for.
	By      string `json:"by"`
	UserID  string `json:"user_id"`
	ActorOf string `json:"actor_of,omitempty"`
	// From and To are statuses, device ids, customer ids or on/off,
	// depending on Kind.
	From        string     `json:"from,omitempty"`
	To          string     `json:"to,omitempty"`
	Related     string     `json:"related,omitempty"`
	PeriodStart *time.Time `json:"period_start,omitempty"`
	PeriodEnd   *time.Time `json:"period_end,omitempty"`
	DaysAdded   int64      `json:"days_added,omitempty"`
	// Status and CustomerID are the license's status and owner right
	// after the change.
	Status     string `json:"status"`
	CustomerID string `json:"customer_id"`
	DeviceID   string `json:"device_id,omitempty"`
}

// HistoryList is one page of a license's history, oldest first.
type HistoryList struct {
	LicenseID  string         `json:"license_id"`
	Entries    []HistoryEntry `json:"entries"`
	NextCursor string         `json:"next_cursor,omitempty"`
}

// Renewal is one renewal of a standard term license in a renewal report.
type Renewal struct {
	LicenseID  string `json:"license_id"`
	Serial     string `json:"serial"`
	CustomerID string `json:"customer_id"`
	// Chain is the owner at the renewal, its parent, and so on up to the
	// customer the report is for.
	Chain       []string  `json:"chain"`
	Months      int       `json:"months"`
	PeriodStart time.Time `json:"period_start"`
	PeriodEnd   time.Time `json:"period_end"`
	RecordedAt  time.Time `json:"recorded_at"`
	// DistributorDescription is empty for callers outside the issuing chain.
	DistributorDescription string `json:"distributor_description,omitempty"`
}

// RenewalReport is one page of renewals in [From, To).
type RenewalReport struct {
	From       string    `json:"from"`
	To         string    `json:"to"`
	Customer   string    `json:"customer"`
	Renewals   []Renewal `json:"renewals"`
	NextCursor string    `json:"next_cursor,omitempty"`
}

// ActiveLicense is a license active on the report's day, as it was then.
type ActiveLicense struct {
	LicenseID  string `json:"license_id"`
	Serial     string `json:"serial"`
	CustomerID string `json:"customer_id"`
	// Chain is the owner that day, its parent, and so on up to the
	// reseller of the report.
	Chain                  []string `json:"chain"`
	Type                   string   `json:"type"`
	Billing                string   `json:"billing"`
	DeviceID               string   `json:"device_id"`
	DistributorDescription string   `json:"distributor_description,omitempty"`
}

// ActiveReport is one page of the licenses active on Day in Reseller's subtree.
type ActiveReport struct {
	Reseller   string          `json:"reseller"`
	Day        string          `json:"day"`
	Licenses   []ActiveLicense `json:"licenses"`
	NextCursor string          `json:"next_cursor,omitempty"`
}
