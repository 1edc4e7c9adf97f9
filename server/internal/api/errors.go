package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/airgap"
	"github.com/tollgate-iot/tollgate/shared/redeem"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
	"github.com/tollgate-iot/tollgate/shared/token"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// Request errors found by the API layer itself.
var (
	// ErrBodyTooLarge reports a body over wire.MaxAdminBodyBytes.
	ErrBodyTooLarge = errors.New("request body too large")
	// ErrUnknownField reports a JSON field the endpoint does not take.
	ErrUnknownField = errors.New("unknown field")
	// ErrWrongType reports a JSON value of the wrong type for its field.
	ErrWrongType = errors.New("wrong type")
	// ErrMalformedJSON reports a body that is not one JSON object.
	ErrMalformedJSON = errors.New("malformed JSON")
	// ErrBadQuery reports a query parameter or path id that does not parse.
	ErrBadQuery = errors.New("invalid parameter")
	// ErrUnsupportedMedia reports a body that is not application/json.
	ErrUnsupportedMedia = errors.New("content type must be application/json")
)

// errorMap is the one mapping from errors to HTTP status and code. The
// first entry that matches (errors.Is) wins; anything else is a 500.
var errorMap = []struct {
	err    error
	status int
	code   string
}{
	{ledger.ErrUnauthenticated, http.StatusUnauthorized, "unauthenticated"},
	{ledger.ErrBadCredentials, http.StatusUnauthorized, "bad_credentials"},
	{ledger.ErrSessionInvalid, http.StatusUnauthorized, "session_invalid"},
	{ledger.ErrAccountLocked, http.StatusTooManyRequests, "account_locked"},
	{ledger.ErrInvitationInvalid, http.StatusNotFound, "invitation_invalid"},
	{ErrUnknownDevice, http.StatusUnauthorized, "unknown_device"},
	{token.ErrUnknownKey, http.StatusUnauthorized, "bad_signature"},
	{token.ErrBadSignature, http.StatusUnauthorized, "bad_signature"},
	{ErrStale, http.StatusConflict, "stale_request"},
	{ledger.ErrReplay, http.StatusConflict, "replay"},
	{ErrRateLimited, http.StatusTooManyRequests, "rate_limited"},
	{ErrTooManyFailures, http.StatusTooManyRequests, "too_many_failures"},
	{ledger.ErrUnknownCode, http.StatusNotFound, "unknown_code"},
	{ledger.ErrDeviceCustomerMismatch, http.StatusConflict, "device_customer_mismatch"},
	{ledger.ErrNoLicenseAvailable, http.StatusConflict, "no_license_available"},
	{ledger.ErrEnrollmentExpired, http.StatusConflict, "enrollment_expired"},
	{ledger.ErrEnrollmentRevoked, http.StatusConflict, "enrollment_revoked"},
	{ledger.ErrEnrollmentUsedUp, http.StatusConflict, "enrollment_used_up"},
	{redeem.ErrInvalid, http.StatusBadRequest, "invalid_request"},
	{ledger.ErrNotIssuer, http.StatusForbidden, "not_issuer"},
	{ledger.ErrIssuerLimit, http.StatusForbidden, "issuer_limit"},
	{ledger.ErrAboveOrigin, http.StatusForbidden, "return_above_origin"},
	{ledger.ErrForbidden, http.StatusForbidden, "forbidden"},
	{ledger.ErrNotFound, http.StatusNotFound, "not_found"},
	{ErrBodyTooLarge, http.StatusRequestEntityTooLarge, "body_too_large"},
	{ErrUnsupportedMedia, http.StatusUnsupportedMediaType, "unsupported_media_type"},
	{ErrNotTextPlain, http.StatusUnsupportedMediaType, "unsupported_media_type"},
	{token.ErrTooLarge, http.StatusRequestEntityTooLarge, "body_too_large"},
	{store.ErrTxnTooBig, http.StatusRequestEntityTooLarge, "report_too_large"},
	{airgap.ErrFileTooLarge, http.StatusRequestEntityTooLarge, "body_too_large"},
	{airgap.ErrArmor, http.StatusBadRequest, "malformed_file"},
	{airgap.ErrNotSelfSigned, http.StatusBadRequest, "not_self_signed"},
	{ledger.ErrDeviceKeyMismatch, http.StatusConflict, "device_key_mismatch"},
	{token.ErrWeakKey, http.StatusBadRequest, "invalid_public_key"},
	{token.ErrMalformed, http.StatusBadRequest, "malformed_document"},
	{token.ErrUnsupportedVersion, http.StatusBadRequest, "malformed_document"},
	{token.ErrWrongKind, http.StatusBadRequest, "malformed_document"},
	{syncproto.ErrImpossibleCount, http.StatusUnprocessableEntity, "impossible_count"},
	{ledger.ErrTooManyCountDays, http.StatusUnprocessableEntity, "too_many_count_days"},
	{syncproto.ErrUnknownReason, http.StatusUnprocessableEntity, "unknown_refusal_reason"},
	{syncproto.ErrTooManyReasons, http.StatusUnprocessableEntity, "too_many_refusal_reasons"},
	{syncproto.ErrBadReasonCount, http.StatusUnprocessableEntity, "bad_refusal_count"},
	{syncproto.ErrReasonsPastRefused, http.StatusUnprocessableEntity, "refusals_past_refused"},
	{syncproto.ErrInvalid, http.StatusBadRequest, "invalid_report"},
	{ledger.ErrCounterWentDown, http.StatusConflict, "counter_went_down"},
	{ledger.ErrNotThisDevice, http.StatusUnprocessableEntity, "not_this_device"},
	{ErrUnknownField, http.StatusBadRequest, "unknown_field"},
	{ErrDuplicateKey, http.StatusBadRequest, "duplicate_key"},
	{ErrWrongType, http.StatusBadRequest, "wrong_type"},
	{ErrMalformedJSON, http.StatusBadRequest, "malformed_json"},
	{ErrBadQuery, http.StatusBadRequest, "invalid_parameter"},
	{wire.ErrImmutable, http.StatusUnprocessableEntity, "immutable_field"},
	{wire.ErrInvalid, http.StatusBadRequest, "invalid_argument"},
	{ledger.ErrBadWebhookURL, http.StatusBadRequest, "webhook_url_refused"},
	{ledger.ErrInvalid, http.StatusBadRequest, "invalid_argument"},
	{ledger.ErrExists, http.StatusConflict, "already_exists"},
	{ledger.ErrLocked, http.StatusConflict, "license_locked"},
	{ledger.ErrNotUnused, http.StatusConflict, "license_not_unused"},
	{ledger.ErrActivated, http.StatusConflict, "license_activated"},
	{ledger.ErrBound, http.StatusConflict, "license_bound"},
	{ledger.ErrNotBound, http.StatusConflict, "license_not_bound"},
	{ledger.ErrModelMismatch, http.StatusConflict, "model_mismatch"},
	{ledger.ErrExpired, http.StatusConflict, "license_expired"},
	{ledger.ErrSuspended, http.StatusConflict, "license_suspended"},
	{ledger.ErrRevoked, http.StatusConflict, "license_revoked"},
	{ledger.ErrTransferred, http.StatusConflict, "license_transferred"},
	{ledger.ErrNotDirectChild, http.StatusConflict, "not_direct_sub_customer"},
	{ledger.ErrNotEnough, http.StatusConflict, "not_enough_licenses"},
	{ledger.ErrNotRenewable, http.StatusConflict, "not_renewable"},
	{ledger.ErrWrongBilling, http.StatusConflict, "wrong_billing"},
	{ledger.ErrNoDaysLeft, http.StatusConflict, "no_days_left"},
	{ledger.ErrBlacklisted, http.StatusConflict, "device_blacklisted"},
	{ledger.ErrCapacity, http.StatusConflict, "capacity_exceeded"},
	{ledger.ErrPendingStart, http.StatusConflict, "license_pending_start"},
	{ledger.ErrNotInitialized, http.StatusServiceUnavailable, "not_initialized"},
	{ledger.ErrAlreadyInitialized, http.StatusConflict, "already_initialized"},
	{ErrBusy, http.StatusServiceUnavailable, "busy"},
}

// Status maps err to its HTTP status and code.
func Status(err error) (int, string) {
	status, code, _ := describe(err)
	return status, code
}

// describe maps err to its HTTP status, code and the message sent with
// them. The message does not repeat the code: a sentinel whose text is the
// code in words ("forbidden", "not found") is dropped from the front of
// the message, so a client that prints "CODE: MESSAGE" names the code once.
func describe(err error) (int, string, string) {
	if err == nil { // no error is no refusal: a caller's bug, never a client's
		return http.StatusInternalServerError, "internal", "no error"
	}
	msg := err.Error()
	for _, e := range errorMap {
		if errors.Is(err, e.err) {
			if text := e.err.Error(); text == strings.ReplaceAll(e.code, "_", " ") {
				if rest, ok := strings.CutPrefix(msg, text+": "); ok {
					msg = rest
				}
			}
			return e.status, e.code, msg
		}
	}
	return http.StatusInternalServerError, "internal", msg
}
