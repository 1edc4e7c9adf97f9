package wire

import "time"

// Stats is GET /v1/stats[?customer=ID]: the figures of one customer's
// subtree (default: the caller's customer) at one instant, answered from
// counters the server keeps with every change (docs/reports.md#statistics).
type Stats struct {
	CustomerID string    `json:"customer_id"`
	At         time.Time `json:"at"`
	// ByType, ByBilling and ByStatus count the licenses by type
	// (standard, trial), billing (term, days) and status.
	ByType    map[string]int64 `json:"by_type"`
	ByBilling map[string]int64 `json:"by_billing"`
	ByStatus  map[string]int64 `json:"by_status"`
	// Kinds counts the licenses of each kind by status, in kind order.
	Kinds    []StatsKind   `json:"kinds"`
	DaysLeft StatsDaysLeft `json:"days_left"`
	Devices  StatsDevices  `json:"devices"`
}

// StatsKind is one license kind (type, billing, model range, rate) and
// how many of its licenses are in each status.
type StatsKind struct {
	Type              string   `json:"type"`
	Billing           string   `json:"billing"`
	Models            []string `json:"models"`
	MaxSamplesPerHour int64    `json:"max_samples_per_hour"`
	Unused            int64    `json:"unused"`
	Inactive          int64    `json:"inactive"`
	PendingStart      int64    `json:"pending_start"`
	Active            int64    `json:"active"`
	Deactivated       int64    `json:"deactivated"`
	Expired           int64    `json:"expired"`
	Suspended         int64    `json:"suspended"`
	Revoked           int64    `json:"revoked"`
	Transferred       int64    `json:"transferred"`
	Total             int64    `json:"total"`
}

// StatsDaysLeft counts the licenses with fewer than 30 and fewer than 7
// days left and lists them, soonest end first (at most StatsMaxListed;
// Truncated says some were left out of the list, never of the counts).
type StatsDaysLeft struct {
	Under30   int64           `json:"under_30"`
	Under7    int64           `json:"under_7"`
	Licenses  []StatsExpiring `json:"licenses"`
	Truncated bool            `json:"truncated"`
}

// StatsMaxListed caps StatsDaysLeft.Licenses.
const StatsMaxListed = 1000

// StatsExpiring is a license with few days left: for a term license the
// whole days to its end, for a day license its available days and its
// projected end (paid-until, or now if it is not paying, plus those days).
type StatsExpiring struct {
	LicenseID  string    `json:"license_id"`
	Serial     string    `json:"serial"`
	CustomerID string    `json:"customer_id"`
	Billing    string    `json:"billing"`
	DaysLeft   int64     `json:"days_left"`
	End        time.Time `json:"end"`
}

// StatsDevices counts the subtree's blacklisted devices, and its devices
// not synced for longer than their max_offline (the smallest of their
// bound licenses').
type StatsDevices struct {
	Blacklisted int64 `json:"blacklisted"`
	Offline     int64 `json:"offline"`
}
