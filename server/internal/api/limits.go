package api

import (
	"time"

	"github.com/tollgate-iot/tollgate/shared/limits"
)

// Bounds of the device sync endpoint.
const (
	// MaxSyncBodyBytes caps a sync request body: the largest signed
	// document plus a line ending. A "million records" body is refused by
	// size before anything parses it.
	MaxSyncBodyBytes = limits.MaxSignedDocumentBytes + 2
	// SyncWindow is how far a request's sent_at may be from the server's
	// time, either way; its nonce is remembered that long.
	SyncWindow = 10 * time.Minute
	// MaxSyncNonces caps the nonces remembered for replay detection. When
	// full, the oldest is forgotten early: a replay that slips through is
	// harmless, because the ledger applies each record once.
	MaxSyncNonces = 200_000
	// MaxDeviceKeysCached caps the parsed device keys kept to verify sync
	// requests (about 200 bytes each).
	MaxDeviceKeysCached = 100_000
)
