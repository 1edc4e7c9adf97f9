package wire

import "time"

// CreatedLicense is one license of a created report: as it was created,
// with its owner and status now.
type CreatedLicense struct {
	LicenseID string    `json:"license_id"`
	Serial    string    `json:"serial"`
	CreatedAt time.Time `json:"created_at"`
	// IssuedBy is the customer whose issuer right created it (the report's
	// customer or one below it); CreatedFor the customer it was created
	// for; CreatedBy the user ("" for licenses older than the report).
	IssuedBy          string   `json:"issued_by"`
	CreatedFor        string   `json:"created_for"`
	CreatedBy         string   `json:"created_by,omitempty"`
	Type              string   `json:"type"`
	Billing           string   `json:"billing"`
	Models            []string `json:"models"`
	MaxSamplesPerHour int64    `json:"max_samples_per_hour"`
	// Months is a standard term license's period; Days a day license's
	// days as created (later top-ups are not part of it).
	Months     int    `json:"months,omitempty"`
	Days       int64  `json:"days,omitempty"`
	CustomerID string `json:"customer_id"`
	Status     string `json:"status"`
	// DistributorDescription (the purchase order) is empty for callers
	// outside the issuing chain.
	DistributorDescription string `json:"distributor_description,omitempty"`
}

// CreatedReport is one page of the licenses created in Month (YYYY-MM) by
// Customer's issuer right or one below it, in order of creation.
type CreatedReport struct {
	Customer   string           `json:"customer"`
	Month      string           `json:"month"`
	Licenses   []CreatedLicense `json:"licenses"`
	NextCursor string           `json:"next_cursor,omitempty"`
}
