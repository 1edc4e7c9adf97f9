package api

import (
	"time"

	"github.com/tollgate-iot/tollgate/shared/limits"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// Bounds of the device sync endpoint.
const (
	// MaxSyncBodyBytes caps a sync request body: the largest signed
	// document plus a line ending. A "million records" body is refused by
	// size before anything parses it.
	MaxSyncBodyBytes = limits.MaxSignedDocumentBytes + 2
	// SyncWindow is how far a request's sent_at may be from the server's
	// time, either way; its nonce is claimed in the ledger that long
	// (ledger.ReconcileSync), so a replay is refused by every replica.
	SyncWindow = 10 * time.Minute
	// MaxDeviceKeysCached caps the parsed device keys kept to verify sync
	// requests (about 200 bytes each).
	MaxDeviceKeysCached = 100_000
)

// Bounds of the request bodies that are read before they are handled: sync
// requests, online activations and usage receipt imports (bodybudget.go).
// Only these can be megabytes; admin JSON is capped far lower
// (wire.MaxAdminBodyBytes).
const (
	// MaxBodyBytesInFlight caps the bytes of such bodies held in memory at
	// once, by all requests together: 16 sync requests of the largest size,
	// thousands of the usual few kilobytes. A body that would go past it is
	// answered 503 with Retry-After, whatever it has sent so far dropped.
	MaxBodyBytesInFlight = 64 << 20
	// MaxBodiesInFlight caps the requests reading such a body at once, so
	// that many small slow bodies cannot pile up either.
	MaxBodiesInFlight = 256
	// MaxBodiesPerKey caps the sync bodies of one device key read at once:
	// an agent syncs one request at a time, so one device (its key
	// stolen, or its agent tampered with) cannot take the places of the
	// rest of the fleet.
	MaxBodiesPerKey = 4
	// BodyChunkBytes is the first buffer of a body and the least it grows
	// by; a buffer grows with what arrives, never to what a request only
	// declares, so a slow sender holds only what it has sent.
	BodyChunkBytes = 16 << 10
	// BusyRetryAfter is the Retry-After of a 503 for a full budget, in
	// seconds: bodies in flight finish within the server's read timeout.
	BusyRetryAfter = 2
	// syncHeadBytes is what of a sync request is read before its key id is
	// known: "tg1.syq." and a 16-digit key id with its dot.
	syncHeadBytes = len(token.FormatVersion+".syq.") + token.KeyIDLen + 1
)
