package token

import "errors"

// ErrMalformed reports a document whose text or payload does not parse.
var ErrMalformed = errors.New("malformed document")

// ErrTooLarge reports a document over the size cap of its kind.
var ErrTooLarge = errors.New("document too large")

// ErrUnsupportedVersion reports a format version this build does not read.
var ErrUnsupportedVersion = errors.New("unsupported document version")

// ErrWrongKind reports a valid document of another kind than the one asked for.
var ErrWrongKind = errors.New("wrong document kind")

// ErrUnknownKey reports a key id that is not in the trust bundle.
var ErrUnknownKey = errors.New("unknown signing key")

// ErrBadSignature reports a signature that does not verify.
var ErrBadSignature = errors.New("bad signature")

// ErrExpired reports a document whose validity window has ended.
var ErrExpired = errors.New("expired")

// ErrNotYetValid reports a document whose validity window has not started.
var ErrNotYetValid = errors.New("not yet valid")

// ErrWeakKey reports a public key that must not be trusted: wrong length,
// all zero, not a canonical curve point, or of small order.
var ErrWeakKey = errors.New("weak or invalid public key")

// ErrWrongScope reports a revocation list signed for another device: ask
// the server for the list of this device (sync, or an activation key made
// for it).
var ErrWrongScope = errors.New("revocation list for another device")

// ErrRollback reports a document older than one already held (a lower
// revocation-list sequence or license version).
var ErrRollback = errors.New("older than the document already held")
