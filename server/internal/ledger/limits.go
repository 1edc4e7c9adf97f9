package ledger

import (
	"time"

	"github.com/tollgate-iot/tollgate/shared/limits"

	"github.com/tollgate-iot/tollgate/shared/wire"
)

// Every bound of the ledger. Bounds a client must know too (batch, page,
// text) come from shared/wire, so that tollgatectl and the server agree;
// those shared with the agent are in shared/limits.
const (
	// MaxBatch caps bulk creation and one sell or return.
	MaxBatch = wire.MaxBatch
	// MaxDescriptionLen caps either description, in bytes.
	MaxDescriptionLen = wire.MaxTextLen
	// DefaultPageSize and MaxPageSize bound one page of a listing.
	DefaultPageSize = 100
	MaxPageSize     = wire.MaxPageSize

	// MaxAPIKeyLen bounds what Authenticate hashes (keys are 47 bytes).
	MaxAPIKeyLen = 128

	// MaxLocationLen caps a device location, MaxReasonLen a blacklist reason.
	MaxLocationLen = 256
	MaxReasonLen   = 256

	// MaxChildrenLimit caps max_children and start_at_children.
	MaxChildrenLimit = 1 << 20

	// MaxCancellationDays caps a cancellation period.
	MaxCancellationDays = 365
	// MaxRetentionDays caps telemetry retention; DefaultRetentionDays
	// applies when a license names none.
	MaxRetentionDays     = 3650
	DefaultRetentionDays = 30
	// MaxOfflineLimit caps max_offline (ten years, in seconds).
	MaxOfflineLimit = 10 * 365 * 24 * 3600

	// MaxIssuerDurations caps an issuer's allowed_months list.
	MaxIssuerDurations = wire.MaxIssuerDurations

	// TrialDays is how long a trial runs from its first bind.
	TrialDays = 30
	// Day is the usage time one deducted day buys.
	Day = 24 * time.Hour
	// DefaultMonths is the default term duration; MaxMonths caps it.
	DefaultMonths = 12
	MaxMonths     = 60

	// dayTokenLifetime bounds the validity window of a day license token;
	// the days it pre-authorizes are the real limit.
	dayTokenLifetime = 5 * 365 * Day
	// periodBatch bounds the licenses one ApplyDue transaction touches.
	periodBatch = 500
)

// Bounds of online activation's guessing limits (redeemguard.go), kept in
// the store so that a restart, or another replica, does not reset them.
const (
	// RedeemFailureWindow is the window failures are counted in: fixed
	// windows of this length from the Unix epoch.
	RedeemFailureWindow = time.Hour
	// MaxRedeemSources caps the source addresses tracked in one window.
	// Past it a new source's failures are not counted under its address
	// (they still count towards the pause of serial redemption), so the
	// store holds at most this many source keys, and only for the current
	// window.
	MaxRedeemSources = 100_000
	// MaxRedeemSourceLen caps a source address as counted (an IPv6 /64
	// prefix is at most 43 bytes).
	MaxRedeemSourceLen = 128
	// redeemPruneBatch caps the keys of past windows one failure's
	// transaction deletes; the next failures delete the rest.
	redeemPruneBatch = 1000
)

// Bounds of sync reconciliation and its admin view.
const (
	// MaxSyncMissingRanges caps the missing ranges one answer asks for; the
	// agent learns the rest on a later sync. It is far below the
	// contract's MaxSyncDeductions.
	MaxSyncMissingRanges = 1000
	// MaxSyncListed caps the forks and overdrafts one sync status lists
	// (their totals are always exact).
	MaxSyncListed = 1000
	// heldTokenSlack is how far past a token's not_after the record that a
	// device holds it runs: a day token, re-signed at every sync, then
	// rewrites the record about once a month, not at every sync.
	heldTokenSlack = 30 * Day
	// MaxRevocationPrune caps the ended superseded and held-token records
	// one periodic pass deletes, of each kind, to keep its transaction small.
	MaxRevocationPrune = 10_000
	// MaxRevocationCacheBytes caps the signed per-device lists kept for
	// reuse within one seq; MaxCachedRevocationBytes is the largest list
	// kept (a few hundred bytes is usual).
	MaxRevocationCacheBytes  = 32 << 20
	MaxCachedRevocationBytes = 16 << 10
	// MaxSyncTokens caps the tokens one sync answer carries (the
	// contract's bound on a response).
	MaxSyncTokens = limits.MaxActivationKeyTokens
	// MaxSyncBatch caps the sync reports one group commit applies, and
	// MaxSyncBatchWeight their records (reportWeight): well inside the
	// small store profile's largest transaction.
	MaxSyncBatch       = 64
	MaxSyncBatchWeight = 4096
	// MaxRaisedCountDays caps the days of counts already held that one
	// report writes into — hours it raises, or merges as a fork. Counts
	// are kept one record per device and day (count_days.go), and each
	// such day's whole record is rewritten. An agent raises the hour it
	// was in at its last sync: one day per device, two across midnight,
	// a gateway's children each theirs; a report raising counts across
	// hundreds of old days is a tampered device multiplying what each of
	// its requests makes the server write, and is refused
	// (ErrTooManyCountDays). At the cap a report rewrites about what its
	// 8,400 counts wrote when each hour was a record of its own.
	MaxRaisedCountDays = 256
	// syncStatusHours is how far back a sync status lists hourly counts:
	// the 7 days docs/design.md#enforcement-on-the-agent asks agents to keep.
	syncStatusHours = 7 * 24
)

// Bounds of the observed telemetry (telemetry.go).
const (
	// MaxObservedPerTxn caps the observed counts added in one transaction.
	MaxObservedPerTxn = 500
	// MaxTelemetryWindow caps the window of a telemetry view or
	// discrepancy listing.
	MaxTelemetryWindow = 31 * Day
	// MaxDiscrepancyScan caps the observed (device, hour) entries one
	// discrepancy listing walks.
	MaxDiscrepancyScan = 500_000
	// SettleMargin allows for the agent's clock when deciding that a sync
	// carried an hour's final counts.
	SettleMargin = 10 * time.Minute
	// SettleAfter settles an hour however long ago the device last synced:
	// agents sync every few minutes while they publish.
	SettleAfter = 24 * time.Hour
)
