// Package limits names every bound that the agent and the server share, so
// that a parser on one side never accepts what the other side refuses.
package limits

const (
	// MaxIDLen is the longest customer, device, user or license id in bytes.
	MaxIDLen = 64

	// MaxLicenseTokenBytes caps the text form of a signed license token. A
	// token is also the device's MQTT password, so it stays small.
	MaxLicenseTokenBytes = 8 << 10

	// MaxRevocationListBytes caps the text form of a signed revocation list.
	MaxRevocationListBytes = 2 << 20

	// MaxGatewayChildren caps the child devices one gateway agent serves.
	MaxGatewayChildren = 10_000

	// MaxLicensesPerDevice caps the license tokens an agent holds for one
	// device.
	MaxLicensesPerDevice = 16

	// MaxRevocationDevices caps blacklisted_devices in one revocation list.
	// A list is scoped to the device it was signed for and names only
	// devices that agent enforces for: itself and, for a gateway, its
	// children.
	MaxRevocationDevices = 1 + MaxGatewayChildren

	// MaxRevocationEntries caps each license list (revoked, suspended,
	// superseded) in one revocation list: the list names only licenses of
	// which its device may hold a token, at most MaxLicensesPerDevice for
	// each device it enforces for. There is no global ceiling: every
	// device's list is signed for it alone. MaxRevocationListBytes stays
	// the bound on the whole text.
	MaxRevocationEntries = MaxRevocationDevices * MaxLicensesPerDevice

	// MaxSignedDocumentBytes caps the text form of any other signed document
	// (activation requests and keys, usage receipts, sync messages).
	MaxSignedDocumentBytes = 4 << 20

	// MaxAirgapFileBytes caps an armored air-gap file (activation request,
	// activation key, usage receipt): a signed document plus its line breaks
	// and frame.
	MaxAirgapFileBytes = MaxSignedDocumentBytes + MaxSignedDocumentBytes/64 + 1024

	// MaxActivationKeyTokens caps the license tokens in one activation key.
	MaxActivationKeyTokens = 64

	// MaxSyncDeductions caps the deduction records of one sync report; an
	// agent with more sends them over several syncs.
	MaxSyncDeductions = 5_000

	// MaxSyncCounts caps the hourly counts of one sync report: a week of
	// hours for 50 devices; larger gateways page. With MaxSyncDeductions a
	// full report stays near 2 MiB, under MaxSignedDocumentBytes.
	MaxSyncCounts = 7 * 24 * 50

	// MaxRefusedByReasons caps the reasons one hourly count splits its
	// refused samples by (syncproto.HourlyCount.RefusedBy). An hour's
	// refusals rarely have more than two reasons; an agent with more
	// reports the largest and leaves the rest without a reason. At this
	// bound a full report (MaxSyncCounts counts, each with the longest
	// reasons at MaxCountPerHour, and MaxSyncDeductions deductions) still
	// signs under MaxSignedDocumentBytes (shared/syncproto's
	// TestFullReportFitsSignedDocument).
	MaxRefusedByReasons = 3

	// MaxTrustBundleBytes caps a trust bundle file.
	MaxTrustBundleBytes = 64 << 10

	// MaxTrustKeys caps the number of signing keys in a trust bundle.
	MaxTrustKeys = 64

	// MaxModelPatterns caps the model range of a license.
	MaxModelPatterns = 32

	// MaxModelPatternLen caps one model pattern, and a device model, in bytes.
	MaxModelPatternLen = 64

	// MaxFeatures caps the feature list of a license.
	MaxFeatures = 32

	// MaxFeatureLen caps one feature name in bytes.
	MaxFeatureLen = 64

	// MaxLicenseVersion is the highest per-license token version. It is the
	// largest integer that every JSON implementation reads exactly (2^53-1).
	MaxLicenseVersion = 1<<53 - 1

	// MaxSamplesPerHour caps the licensed sample rate of one license.
	MaxSamplesPerHour = 1 << 30

	// MaxCountPerHour bounds each hourly count a device reports (accepted,
	// overage, refused) and each count the broker observes for one device
	// and hour: 2^36 ≈ 6.9e10, 19 million samples a second for a whole
	// hour. The agent decides on one device's samples under that device's
	// lock at about 200 ns each (docs/agent.md, BenchmarkGateDecision),
	// 5 million a second at most, and the licensed rate is capped at
	// MaxSamplesPerHour (2^30): a count past this bound is no device's
	// work but a forged number. It also keeps sums exact: a device's
	// counts over a 31-day window stay below 2^46, and 2^27 hour-counts
	// at the bound fit in an int64.
	MaxCountPerHour = 1 << 36

	// MaxPrepaidDays caps the days a license can hold or pre-authorize.
	MaxPrepaidDays = 100_000

	// MaxSerialLen caps a license serial in bytes.
	MaxSerialLen = 32
)
