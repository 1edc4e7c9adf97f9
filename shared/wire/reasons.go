package wire

// RefusalReasons is the closed set of refusal reasons, in a fixed order:
// the reasons of the ingest answer, and the keys an agent's hourly count
// may split its refused samples by (syncproto.HourlyCount.RefusedBy). The
// consumption report's CSV has one refused_REASON column per entry, in
// this order (docs/reports.md). Add new reasons at the end, never rename
// or drop one: a server refuses a count that names a reason it does not
// know.
var RefusalReasons = [...]string{
	ReasonBlacklisted,
	ReasonNoLicense,
	ReasonRevoked,
	ReasonSuspended,
	ReasonExpired,
	ReasonNotYetValid,
	ReasonWrongDevice,
	ReasonModelMismatch,
	ReasonClockTamper,
	ReasonNoDays,
	ReasonOverBudget,
	ReasonStaleRevocationList,
	ReasonQueueFull,
	ReasonUnknownDevice,
	ReasonInvalidSample,
	ReasonStorageError,
	ReasonSuperseded,
}

// IsRefusalReason reports whether r is one of RefusalReasons.
func IsRefusalReason(r string) bool {
	for _, k := range RefusalReasons {
		if k == r {
			return true
		}
	}
	return false
}
