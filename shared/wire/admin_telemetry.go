package wire

import "time"

// TelemetryHour compares, for one device and hour, the telemetry messages
// the server's broker observed with the samples the agent reported.
type TelemetryHour struct {
	Hour     time.Time `json:"hour"`
	Observed int64     `json:"observed"`
	// ReportedAccepted and ReportedOverage are the agent's hourly counts
	// (overage is part of accepted).
	ReportedAccepted int64 `json:"reported_accepted"`
	ReportedOverage  int64 `json:"reported_overage"`
	// Difference is observed less reported accepted.
	Difference int64 `json:"difference"`
	// Settled: the device synced after the hour ended, so its report of
	// the hour is final.
	Settled bool `json:"settled"`
}

// DeviceTelemetry is GET /v1/devices/{id}/telemetry: the hours of a window
// in which the broker observed the device's telemetry or it reported
// counts, oldest first.
type DeviceTelemetry struct {
	DeviceID   string    `json:"device_id"`
	CustomerID string    `json:"customer_id"`
	From       time.Time `json:"from"`
	To         time.Time `json:"to"`
	// SettledBefore: hours ending before it are settled (null: the device
	// never synced).
	SettledBefore    *time.Time `json:"settled_before"`
	Observed         int64      `json:"observed"`
	ReportedAccepted int64      `json:"reported_accepted"`
	// Excess sums observed above reported accepted over settled hours.
	Excess int64           `json:"excess"`
	Hours  []TelemetryHour `json:"hours"`
	// Compared is "per_hour" (the device's hours are the server's: hours
	// compares them one by one) or "totals" (its clock is off: hours is
	// empty, observed sums the window's server hours, reported_accepted
	// what the device's syncs brought in those hours, excess the settled
	// observed above that).
	Compared string `json:"compared"`
	// Clock is the device's clock at its last online sync (null: none).
	Clock *DeviceClock `json:"clock"`
}

// DeviceClock is a device's clock next to the server's, as its last
// online sync showed it (the report's time less the time of receipt).
type DeviceClock struct {
	// OffsetSeconds is the device's clock less the server's: positive
	// ahead, negative behind.
	OffsetSeconds int64     `json:"offset_seconds"`
	CheckedAt     time.Time `json:"checked_at"`
	// Off: more than the server's tolerance (30 minutes) away, so the
	// device's hours are not server hours.
	Off bool `json:"off"`
	// Note says, in words, what the view does about it (empty if not off).
	Note string `json:"note,omitempty"`
}

// TelemetryDiscrepancy is a device whose observed telemetry exceeds what
// it reported in settled hours of the window.
type TelemetryDiscrepancy struct {
	DeviceID         string     `json:"device_id"`
	CustomerID       string     `json:"customer_id"`
	Observed         int64      `json:"observed"`
	ReportedAccepted int64      `json:"reported_accepted"`
	Excess           int64      `json:"excess"`
	Hours            int        `json:"hours"`
	SettledBefore    *time.Time `json:"settled_before"`
	// Compared is "per_hour" or "totals" (the device's clock is off:
	// reported_accepted is what its syncs brought in the window, hours 0).
	Compared string `json:"compared"`
}

// TelemetryDiscrepancyList is GET /v1/telemetry/discrepancies, largest
// excess first. Complete is false if the window held more observed hours
// than one listing walks (narrow it).
type TelemetryDiscrepancyList struct {
	CustomerID string                 `json:"customer_id"`
	From       time.Time              `json:"from"`
	To         time.Time              `json:"to"`
	MinExcess  int64                  `json:"min_excess"`
	Complete   bool                   `json:"complete"`
	Devices    []TelemetryDiscrepancy `json:"devices"`
}
