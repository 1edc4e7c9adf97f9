package syncer

import (
	"errors"
	"fmt"
	"net/http"
)

// Sentinels of a failed sync; every error Sync returns is an *Error
// wrapping one of them.
var (
	// ErrNoServer reports an agent without a license server URL.
	ErrNoServer = errors.New("no license server configured (--server, TOLLGATE_SERVER or config server)")
	// ErrNetwork reports a request that got no HTTP answer.
	ErrNetwork = errors.New("license server unreachable")
	// ErrRefused reports an HTTP error answer from the server.
	ErrRefused = errors.New("license server refused the sync")
	// ErrBadAnswer reports an answer that fails verification: wrong
	// signer, another device, a replayed nonce, or not a sync answer.
	ErrBadAnswer = errors.New("sync answer failed verification")
)

// Error is a failed sync: a stable code (the server's error code when it
// answered one), the HTTP status if any, and whether trying again later
// may succeed.
type Error struct {
	// Code is the stable error code: "network", "bad_answer", "no_server",
	// the server's code (stale_request, replay, counter_went_down, …) or
	// "http_NNN" when the server sent none.
	Code string
	// Status is the HTTP status (0 without an answer).
	Status int
	// Err is the cause; it wraps one of the sentinels above.
	Err   error
	retry bool
}

func (e *Error) Error() string { return e.Err.Error() }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Retryable tells whether the same sync may succeed later unchanged:
// network errors, 5xx, 429, and the freshness refusals (stale_request,
// replay), which a new report with a new nonce and time answers. Contract
// errors (4xx) and answers that fail verification are not.
func (e *Error) Retryable() bool { return e.retry }

// Retryable tells whether err is a sync error worth retrying.
func Retryable(err error) bool {
	var se *Error
	return errors.As(err, &se) && se.retry
}

func networkError(err error) *Error {
	return &Error{Code: "network", Err: fmt.Errorf("%w: %v", ErrNetwork, err), retry: true}
}

func badAnswer(err error) *Error {
	return &Error{Code: "bad_answer", Err: fmt.Errorf("%w: %w", ErrBadAnswer, err)}
}

// refused classifies an HTTP error answer.
func refused(status int, code, msg string) *Error {
	if code == "" {
		code = fmt.Sprintf("http_%d", status)
	}
	retry := status >= 500 || status == http.StatusTooManyRequests ||
		status == http.StatusConflict && (code == "stale_request" || code == "replay")
	return &Error{Code: code, Status: status, Err: fmt.Errorf("%w: HTTP %d: %s", ErrRefused, status, msg), retry: retry}
}
