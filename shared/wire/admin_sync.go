package wire

import "time"

// SeqRange is an inclusive range of deduction sequence numbers.
type SeqRange struct {
	From int64 `json:"from"`
	To   int64 `json:"to"`
}

// SyncDeduction is a deduction record as a device reported it.
type SyncDeduction struct {
	Seq        int64     `json:"seq"`
	LicenseID  string    `json:"license_id"`
	At         time.Time `json:"at"`
	PaidUntil  time.Time `json:"paid_until"`
	DaysBefore int64     `json:"days_before"`
	DaysAfter  int64     `json:"days_after"`
}

// SyncFork is a reported record whose seq the server holds with other
// content (two agents with one identity, or a restored older state).
type SyncFork struct {
	Seq      int64         `json:"seq"`
	SeenAt   time.Time     `json:"seen_at"`
	Held     SyncDeduction `json:"held"`
	Reported SyncDeduction `json:"reported"`
	// Charge is what the server charged for the day the reported record
	// used a second time (failed: nothing could pay, the device was
	// blacklisted); absent for a forked failed record, which used no day.
	Charge *Deduction `json:"charge,omitempty"`
}

// SyncOverdraft is a reported deduction no license could pay on the server;
// it blacklisted the device.
type SyncOverdraft struct {
	Seq int64     `json:"seq"`
	At  time.Time `json:"at"`
}

// HourCount is what one device did in one hour.
type HourCount struct {
	Hour     time.Time `json:"hour"`
	Accepted int64     `json:"accepted"`
	Overage  int64     `json:"overage"`
	Refused  int64     `json:"refused"`
	// RefusedBy splits Refused by reason (RefusalReasons); what it does
	// not name has no reason known (all of it from older agents, when it
	// is absent).
	RefusedBy map[string]int64 `json:"refused_by,omitempty"`
}

// CountTotals sums hourly counts over a period.
type CountTotals struct {
	Accepted int64 `json:"accepted"`
	Overage  int64 `json:"overage"`
	Refused  int64 `json:"refused"`
	// RefusedBy sums the refusals by reason; absent when none had one.
	RefusedBy map[string]int64 `json:"refused_by,omitempty"`
}

// DeviceSync is the sync status of a device (GET /v1/devices/{id}/sync).
type DeviceSync struct {
	DeviceID   string          `json:"device_id"`
	LastSyncAt *time.Time      `json:"last_sync_at"`
	Syncs      int64           `json:"syncs"`
	AckedSeq   int64           `json:"acked_seq"`
	HighestSeq int64           `json:"highest_seq"`
	Gaps       []SeqRange      `json:"gaps"`
	ForkCount  int64           `json:"fork_count"`
	Forks      []SyncFork      `json:"forks"`
	Overdrafts int64           `json:"overdraft_count"`
	Overdrawn  []SyncOverdraft `json:"overdrafts"`
	Last24h    CountTotals     `json:"last_24h"`
	Last7d     CountTotals     `json:"last_7d"`
	Hourly     []HourCount     `json:"hourly"`
	// CountConflicts counts hourly counts of forked reports lower than
	// held (kept at the held value); ForkedHours are the latest such hours.
	CountConflicts int64       `json:"count_conflicts"`
	ForkedHours    []time.Time `json:"forked_hours"`
	// WindowsBy says what last_24h and last_7d count, both windows of the
	// server's clock: "device_hours" (the device's hourly counts of those
	// hours; its clock agrees with the server's) or "server_receipt" (its
	// clock is off: what its syncs received in those hours). Hourly are
	// always hours of the device's clock, up to its time at its last sync.
	WindowsBy string `json:"windows_by"`
	// Clock is the device's clock at its last online sync (null: none).
	Clock *DeviceClock `json:"clock"`
}
