package ledger

import "errors"

// The ledger's errors. Every refusal wraps one of these with %w; the API
// maps each to one HTTP status and code (api/errors.go).
var (
	// ErrNotFound reports an object that does not exist or that the caller
	// may not see (the two are indistinguishable on purpose).
	ErrNotFound = errors.New("not found")
	// ErrUnauthenticated reports an unknown or revoked API key.
	ErrUnauthenticated = errors.New("unknown or revoked API key")
	// ErrForbidden reports an action the caller's role or place in the
	// customer tree does not allow.
	ErrForbidden = errors.New("forbidden")
	// ErrInvalid reports a request that breaks a field rule.
	ErrInvalid = errors.New("invalid argument")
	// ErrExists reports an id, serial or device key already in use.
	ErrExists = errors.New("already exists")
	// ErrLocked reports a locked license where sell, bind or return was asked.
	ErrLocked = errors.New("license is locked")
	// ErrNotUnused reports a license that must be unused (sell, return, lock).
	ErrNotUnused = errors.New("license is not unused")
	// ErrActivated reports a delete or move of a license that was activated.
	ErrActivated = errors.New("license was activated")
	// ErrBound reports a license already bound (to another device).
	ErrBound = errors.New("license is bound")
	// ErrNotBound reports an unbind of a license that is not bound.
	ErrNotBound = errors.New("license is not bound")
	// ErrModelMismatch reports a device whose model is outside the license's model range.
	ErrModelMismatch = errors.New("device model is outside the license's model range")
	// ErrExpired reports a license with no time or days left; it can never be reactivated.
	ErrExpired = errors.New("license is expired")
	// ErrSuspended reports a suspended license.
	ErrSuspended = errors.New("license is suspended")
	// ErrRevoked reports a revoked license.
	ErrRevoked = errors.New("license is revoked")
	// ErrTransferred reports a license superseded by a transfer.
	ErrTransferred = errors.New("license was transferred")
	// ErrNotIssuer reports a license creation or top-up by a customer the
	// vendor has not made an issuer.
	ErrNotIssuer = errors.New("not an issuer")
	// ErrIssuerLimit reports a license outside its issuer's limits
	// (allowed durations, days).
	ErrIssuerLimit = errors.New("outside the issuer's limits")
	// ErrAboveOrigin reports a return of a license above the customer it
	// came down from: a return moves only what came down.
	ErrAboveOrigin = errors.New("license did not come down from there")
	// ErrNotDirectChild reports a sale to a customer that is not a direct sub-customer.
	ErrNotDirectChild = errors.New("not a direct sub-customer")
	// ErrNotEnough reports a sale or return by count with too few eligible licenses.
	ErrNotEnough = errors.New("not enough eligible licenses")
	// ErrNotRenewable reports a renew switch on a license that does not renew (trial, days).
	ErrNotRenewable = errors.New("license does not renew")
	// ErrWrongBilling reports a day operation on a term license or the reverse.
	ErrWrongBilling = errors.New("wrong billing for this operation")
	// ErrNoDaysLeft reports a failed day deduction: no bound license could
	// pay, and the device is now blacklisted.
	ErrNoDaysLeft = errors.New("no license can pay a day: device blacklisted")
	// ErrCapacity reports a child device beyond a gateway license's
	// max_children, or a capacity license bound where it cannot fit or start.
	ErrCapacity = errors.New("capacity exceeded")
	// ErrPendingStart reports a capacity license that has not reached its
	// start condition: it may not be used yet.
	ErrPendingStart = errors.New("license has not started")
	// ErrBlacklisted reports a blacklisted device asking to send data.
	ErrBlacklisted = errors.New("device is blacklisted")
	// ErrAlreadyInitialized reports a second init of the same data directory.
	ErrAlreadyInitialized = errors.New("server already initialized")
	// ErrNotInitialized reports a data directory without a root customer.
	ErrNotInitialized = errors.New("server not initialized (run tollgate-server init)")
)

// The refusals of a sync report (Reconcile). Either refuses the whole
// report: nothing of it is applied.
var (
	// ErrCounterWentDown reports an hourly count lower than the one held
	// for the same (device, hour): counters are cumulative and never go down.
	ErrCounterWentDown = errors.New("hourly counter went down")
	// ErrTooManyCountDays reports a report that raises counts already
	// held in more than MaxRaisedCountDays days.
	ErrTooManyCountDays = errors.New("report raises counts held in too many days")
	// ErrNotThisDevice reports a record naming a license not bound to the
	// reporting device (or unknown), or counts for a device that is
	// neither the reporter nor one of its gateway children.
	ErrNotThisDevice = errors.New("record is not this device's")
)
