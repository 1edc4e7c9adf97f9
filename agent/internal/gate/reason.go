package gate

import "github.com/tollgate-iot/tollgate/shared/wire"

// Reason is the outcome of a gate decision: OK or why a sample is refused.
type Reason uint8

// The reasons, in no particular order; their strings are the public
// contract of the ingest answer (shared/wire).
const (
	OK Reason = iota
	Blacklisted
	NoLicense
	Revoked
	Suspended
	Expired
	NotYetValid
	WrongDevice
	ModelMismatch
	ClockTamper
	NoDays
	OverBudget
	StaleRevocationList
	QueueFull
	UnknownDevice
	InvalidSample
	StorageError
	Superseded
	// NumReasons is the number of reasons, for counter arrays.
	NumReasons
)

var reasonNames = [NumReasons]string{
	OK:                  "ok",
	Blacklisted:         wire.ReasonBlacklisted,
	NoLicense:           wire.ReasonNoLicense,
	Revoked:             wire.ReasonRevoked,
	Suspended:           wire.ReasonSuspended,
	Expired:             wire.ReasonExpired,
	NotYetValid:         wire.ReasonNotYetValid,
	WrongDevice:         wire.ReasonWrongDevice,
	ModelMismatch:       wire.ReasonModelMismatch,
	ClockTamper:         wire.ReasonClockTamper,
	NoDays:              wire.ReasonNoDays,
	OverBudget:          wire.ReasonOverBudget,
	StaleRevocationList: wire.ReasonStaleRevocationList,
	QueueFull:           wire.ReasonQueueFull,
	UnknownDevice:       wire.ReasonUnknownDevice,
	InvalidSample:       wire.ReasonInvalidSample,
	StorageError:        wire.ReasonStorageError,
	Superseded:          wire.ReasonSuperseded,
}

// String returns the wire name of r.
func (r Reason) String() string {
	if r >= NumReasons {
		return "unknown"
	}
	return reasonNames[r]
}
