package wire

import "time"

// ConsumptionLicense is one license of a device in the consumption report:
// bound to the device now, or charged a day for it in the month.
type ConsumptionLicense struct {
	ID                string `json:"id"`
	Serial            string `json:"serial"`
	Type              string `json:"type"`
	Billing           string `json:"billing"`
	Enforcement       string `json:"enforcement"`
	MaxSamplesPerHour int64  `json:"max_samples_per_hour"`
	RetentionDays     int    `json:"retention_days"`
	// DaysCharged counts the days charged to the license for the device
	// in the month (day licenses).
	DaysCharged int64 `json:"days_charged"`
}

// ConsumptionRefusals splits the refused samples a device reported by
// reason (docs/reports.md "Refusals by reason").
type ConsumptionRefusals struct {
	// Total is every refusal, with a reason or without.
	Total int64 `json:"total"`
	// ByReason counts the refusals of each reason (RefusalReasons) that
	// had any; {} when none had a reason.
	ByReason map[string]int64 `json:"by_reason"`
	// Unknown counts the refusals the agent reported without a reason:
	// all of an agent older than reasons, and an hour's past the reasons
	// one hourly count may carry.
	Unknown int64 `json:"unknown"`
}

// ConsumptionDevice is one device's month in the consumption report
// (docs/reports.md "Monthly consumption" says how each field is computed).
type ConsumptionDevice struct {
	DeviceID   string               `json:"device_id"`
	CustomerID string               `json:"customer_id"`
	Licenses   []ConsumptionLicense `json:"licenses"`
	// SamplesPerHour and Enforcement are the license's that sets the
	// budget; Budget24h is SamplesPerHour × 24 (0: no limit).
	SamplesPerHour int64  `json:"samples_per_hour"`
	Enforcement    string `json:"enforcement"`
	Budget24h      int64  `json:"budget_24h"`
	// Samples sums the accepted samples the agent reported for the month.
	Samples int64 `json:"samples"`
	// PeakHour is the busiest reported hour (null: none), PeakCount its
	// samples.
	PeakHour       *time.Time          `json:"peak_hour"`
	PeakCount      int64               `json:"peak_count"`
	DaysOverBudget int                 `json:"days_over_budget"`
	Overage        int64               `json:"overage"`
	Refused        ConsumptionRefusals `json:"refused"`
	// Observed is what the broker observed (null: nothing observed), over
	// ObservedHours hours.
	Observed      *int64 `json:"observed"`
	ObservedHours int    `json:"observed_hours"`
	DaysCharged   int64  `json:"days_charged"`
	DaysFailed    int64  `json:"days_failed"`
	// Blacklisted is the device's state when the report was made.
	Blacklisted bool `json:"blacklisted"`
	// RetainedFrom is set when the month starts before the retention of
	// the device's licenses: hours before it may have been pruned.
	RetainedFrom *time.Time `json:"retained_from"`
}

// ConsumptionTotals adds up the devices of a customer or of the report.
type ConsumptionTotals struct {
	Devices        int                 `json:"devices"`
	Samples        int64               `json:"samples"`
	Observed       int64               `json:"observed"`
	Overage        int64               `json:"overage"`
	Refused        ConsumptionRefusals `json:"refused"`
	DaysOverBudget int64               `json:"days_over_budget"`
	DaysCharged    int64               `json:"days_charged"`
	DaysFailed     int64               `json:"days_failed"`
	// RetentionLimited counts the devices whose month starts before their
	// retention.
	RetentionLimited int `json:"retention_limited"`
}

// ConsumptionCustomer is one customer's devices and totals.
type ConsumptionCustomer struct {
	CustomerID string              `json:"customer_id"`
	Name       string              `json:"name"`
	Devices    []ConsumptionDevice `json:"devices"`
	Totals     ConsumptionTotals   `json:"totals"`
}

// ConsumptionReport is GET /v1/reports/consumption?customer=&month=: the
// month of every device of a customer's subtree, grouped by customer (the
// customer first, then its descendants, depth first in id order; only
// customers with devices), with the report's totals.
type ConsumptionReport struct {
	CustomerID string                `json:"customer_id"`
	Month      string                `json:"month"` // YYYY-MM
	From       time.Time             `json:"from"`
	To         time.Time             `json:"to"`
	Customers  []ConsumptionCustomer `json:"customers"`
	Totals     ConsumptionTotals     `json:"totals"`
}

// ConsumptionCSVHeader is the header row of the consumption report as CSV
// (format=csv or Accept: text/csv). Each device is a "device" row; each
// customer ends with a "customer_total" row and the report with one
// "total" row, whose device columns are empty; the total row is always
// the last, so a report cut short (an error while it streamed) is told by
// its absence. retention_limited and devices count devices (1 or 0 on a
// device row). Times are RFC 3339 (UTC), license serials are joined with
// spaces, and an absent value is empty. The refusals are "refused" (all),
// then one "refused_REASON" column per RefusalReasons entry, in its
// order, then "refused_unknown" (ConsumptionRefusedColumns).
var ConsumptionCSVHeader = consumptionCSVHeader()

// ConsumptionRefusedColumns is the number of refusal columns of the CSV:
// refused, one per reason, refused_unknown.
const ConsumptionRefusedColumns = 2 + len(RefusalReasons)

func consumptionCSVHeader() []string {
	h := []string{"row", "customer_id", "device_id", "licenses", "enforcement", "samples_per_hour", "budget_24h",
		"samples", "peak_hour", "peak_count", "days_over_budget", "overage", "refused"}
	for _, r := range RefusalReasons {
		h = append(h, "refused_"+r)
	}
	return append(h, "refused_unknown",
		"observed", "observed_hours", "days_charged", "days_failed", "blacklisted", "retained_from", "retention_limited", "devices")
}

// The kinds of CSV rows of the consumption report (its "row" column).
const (
	ConsumptionRowDevice        = "device"
	ConsumptionRowCustomerTotal = "customer_total"
	ConsumptionRowTotal         = "total"
)
