// Package syncproto is the contract of agent↔server sync (docs/design.md#sync) and of
// the air-gapped usage receipt (docs/design.md#air-gapped-sites), which carries the same usage
// report: one set of types, one set of checks, one reconciliation path.
//
// A sync request is a signed document of kind token.KindSyncRequest, made
// by the device key; a usage receipt is the same report signed as
// token.KindUsageReceipt. The server answers a sync with a document of kind
// token.KindSyncResponse signed by its active key; the answer echoes the
// request's nonce, so a captured answer cannot be replayed to the agent as
// fresh, and carries the server's time for the agent's effective clock.
//
// Records are idempotent: deductions by (device, seq), hourly counts by
// (device, hour) with cumulative values that only grow. Sending a report
// twice, or reports out of order, changes nothing on the server.
package syncproto

import (
	"errors"
	"fmt"

	"github.com/tollgate-iot/tollgate/shared/ident"
	"github.com/tollgate-iot/tollgate/shared/limits"
	"github.com/tollgate-iot/tollgate/shared/token"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// ErrInvalid reports a report or answer that breaks the contract; the error
// names the field.
var ErrInvalid = errors.New("invalid sync document")

// ErrImpossibleCount reports an hourly count past limits.MaxCountPerHour:
// more samples than a device can take in an hour. It is a kind of
// ErrInvalid (errors.Is matches both).
var ErrImpossibleCount = errors.New("hourly count past what a device can do in an hour")

// ErrUnknownReason reports an hourly count whose refused_by names a reason
// outside wire.RefusalReasons. It is a kind of ErrInvalid.
var ErrUnknownReason = errors.New("refused_by names an unknown refusal reason")

// ErrTooManyReasons reports an hourly count whose refused_by has more than
// limits.MaxRefusedByReasons reasons. It is a kind of ErrInvalid.
var ErrTooManyReasons = errors.New("refused_by has too many reasons")

// ErrBadReasonCount reports a refused_by entry that is not positive (a
// reason without refusals is left out) or past limits.MaxCountPerHour. It
// is a kind of ErrInvalid.
var ErrBadReasonCount = errors.New("refused_by count out of range")

// ErrReasonsPastRefused reports an hourly count whose refused_by adds up
// to more than its refused total. It is a kind of ErrInvalid.
var ErrReasonsPastRefused = errors.New("refused_by adds up to more than refused")

// NonceLen is the length of a nonce: 16 random bytes in unpadded base64url.
const NonceLen = 22

// Deduction is one day deducted by the agent (docs/design.md#day-licenses): what it charged,
// when, and the days before and after on the token that paid.
type Deduction struct {
	// DeviceID names the gateway child the day was deducted for; empty for
	// the reporting device itself (and in reports of agents older than
	// the field). Each device numbers its own deductions: seqs are unique
	// per (DeviceID, Seq).
	DeviceID   string `json:"device_id,omitempty"`
	Seq        int64  `json:"seq"`
	LicenseID  string `json:"license_id"`
	At         int64  `json:"at"`
	PaidUntil  int64  `json:"paid_until"`
	DaysBefore int64  `json:"days_before"`
	DaysAfter  int64  `json:"days_after"`
	// Failed marks a day nothing could pay on the agent: it blacklisted
	// itself then (docs/design.md#enforcement-on-the-agent step 4). The server records it, charges
	// nothing, and blacklists the device.
	Failed bool `json:"failed,omitempty"`
}

// HourlyCount is what one device (the agent's own, or a gateway's child)
// did in one hour. Values are cumulative for that hour: a later report of
// the same hour replaces an earlier one and may never be lower.
type HourlyCount struct {
	DeviceID string `json:"device_id"`
	Hour     int64  `json:"hour"` // Unix seconds, a multiple of 3600
	Accepted int64  `json:"accepted"`
	Overage  int64  `json:"overage"`
	Refused  int64  `json:"refused"`
	// RefusedBy splits Refused by reason (keys from wire.RefusalReasons,
	// each positive, at most limits.MaxRefusedByReasons of them, adding up
	// to at most Refused: what is left has no reason known). Absent in
	// counts of agents older than the field, whose refusals all have no
	// reason known.
	RefusedBy map[string]int64 `json:"refused_by,omitempty"`
}

// CheckRefusedBy checks RefusedBy against the closed set of reasons and
// its bounds, with a named error (a kind of ErrInvalid) for each breach.
func (c *HourlyCount) CheckRefusedBy() error {
	if len(c.RefusedBy) > limits.MaxRefusedByReasons {
		return fmt.Errorf("%w: %w: device %s hour %d: %d reasons, at most %d",
			ErrInvalid, ErrTooManyReasons, c.DeviceID, c.Hour, len(c.RefusedBy), limits.MaxRefusedByReasons)
	}
	var sum int64
	for r, n := range c.RefusedBy {
		if !wire.IsRefusalReason(r) {
			return fmt.Errorf("%w: %w: device %s hour %d: %q (the reasons are those of the ingest answer)",
				ErrInvalid, ErrUnknownReason, c.DeviceID, c.Hour, r)
		}
		if n < 1 || n > limits.MaxCountPerHour {
			return fmt.Errorf("%w: %w: device %s hour %d: %s %d, must be 1..%d (leave a reason without refusals out)",
				ErrInvalid, ErrBadReasonCount, c.DeviceID, c.Hour, r, n, int64(limits.MaxCountPerHour))
		}
		sum += n // at most MaxRefusedByReasons × 2^36: no wrap
	}
	if sum > c.Refused {
		return fmt.Errorf("%w: %w: device %s hour %d: reasons add up to %d, refused is %d",
			ErrInvalid, ErrReasonsPastRefused, c.DeviceID, c.Hour, sum, c.Refused)
	}
	return nil
}

// RefusedWithoutReason is the part of Refused that RefusedBy does not
// name: all of it in counts of older agents.
func (c *HourlyCount) RefusedWithoutReason() int64 {
	n := c.Refused
	for _, v := range c.RefusedBy {
		n -= v
	}
	return max(n, 0)
}

// Equal reports whether two counts are the same, reason by reason.
func (c *HourlyCount) Equal(o *HourlyCount) bool {
	if c.DeviceID != o.DeviceID || c.Hour != o.Hour || c.Accepted != o.Accepted || c.Overage != o.Overage ||
		c.Refused != o.Refused || len(c.RefusedBy) != len(o.RefusedBy) {
		return false
	}
	for r, n := range c.RefusedBy {
		if m, ok := o.RefusedBy[r]; !ok || m != n {
			return false
		}
	}
	return true
}

// Below reports whether any figure of c is lower than o's, reason by
// reason (a reason absent from c counts 0): a report of c after o would
// lower a count that may only grow.
func (c *HourlyCount) Below(o *HourlyCount) bool {
	if c.Accepted < o.Accepted || c.Overage < o.Overage || c.Refused < o.Refused {
		return true
	}
	for r, n := range o.RefusedBy {
		if c.RefusedBy[r] < n {
			return true
		}
	}
	return false
}

// MaxMerge is the count that holds the highest of c and o, field by field
// and reason by reason, with Refused raised to the sum of the reasons if
// that is higher (so that the reasons never add up past it). Neither c
// nor o is changed.
func (c *HourlyCount) MaxMerge(o *HourlyCount) HourlyCount {
	m := HourlyCount{DeviceID: c.DeviceID, Hour: c.Hour, Accepted: max(c.Accepted, o.Accepted),
		Overage: max(c.Overage, o.Overage), Refused: max(c.Refused, o.Refused)}
	var sum int64
	for _, by := range [2]map[string]int64{c.RefusedBy, o.RefusedBy} {
		for r, n := range by {
			if m.RefusedBy == nil {
				m.RefusedBy = map[string]int64{}
			}
			if n > m.RefusedBy[r] {
				sum += n - m.RefusedBy[r]
				m.RefusedBy[r] = n
			}
		}
	}
	m.Refused = max(m.Refused, sum)
	return m
}

// CheckPossible refuses a count no device can reach in one hour (past
// limits.MaxCountPerHour), with ErrImpossibleCount (and ErrInvalid). The
// bound also keeps every sum of counts from wrapping (shared/limits).
// Overage is bounded by Accepted.
func (c *HourlyCount) CheckPossible() error {
	if c.Accepted > limits.MaxCountPerHour || c.Refused > limits.MaxCountPerHour || c.Overage > limits.MaxCountPerHour {
		return fmt.Errorf("%w: %w: device %s hour %d: %d accepted, %d refused; at most %d each in an hour",
			ErrInvalid, ErrImpossibleCount, c.DeviceID, c.Hour, c.Accepted, c.Refused, int64(limits.MaxCountPerHour))
	}
	return nil
}

// TokenVersion names a license token the agent holds.
type TokenVersion struct {
	LicenseID string `json:"license_id"`
	Version   int64  `json:"version"`
}

// Report is the usage an agent uploads, online or as a receipt file.
type Report struct {
	DeviceID string `json:"device_id"`
	// Nonce is unique per report (16 random bytes, base64url).
	Nonce string `json:"nonce"`
	// SentAt is the agent's effective time when it made the report: the
	// time its records are in.
	SentAt int64 `json:"sent_at"`
	// SentWall is the agent's real wall clock when it made the report,
	// Unix seconds: the server checks a request's freshness against it,
	// because the effective time of an agent on a simulation clock
	// (--clock-speed) or a distrusted clock may be days away. 0 (absent)
	// in reports of agents older than the field: the server checks
	// SentAt instead.
	SentWall int64 `json:"sent_wall,omitempty"`
	// RevocationSeq is the seq of the revocation list the agent holds (0: none).
	RevocationSeq int64 `json:"revocation_seq"`
	// Tokens are the license versions the agent holds.
	Tokens []TokenVersion `json:"tokens"`
	// Deductions are the agent's deduction records and a gateway's
	// children's, ascending by (DeviceID, Seq): the reporter's own (empty
	// DeviceID) first.
	Deductions []Deduction `json:"deductions"`
	// Counts are hourly counts, ascending by (DeviceID, Hour).
	Counts []HourlyCount `json:"counts"`
}

// Validate checks a report on its own: bounds, ids, order, no duplicates.
// Whether the records agree with what the server already holds is the
// server's reconciliation, not this.
func (r *Report) Validate() error {
	if err := ident.CheckID("device_id", r.DeviceID); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if err := checkNonce(r.Nonce); err != nil {
		return err
	}
	if r.SentAt <= 0 || r.SentWall < 0 || r.RevocationSeq < 0 {
		return fmt.Errorf("%w: sent_at must be positive, sent_wall and revocation_seq not negative", ErrInvalid)
	}
	if r.Tokens == nil || r.Deductions == nil || r.Counts == nil {
		return fmt.Errorf("%w: tokens, deductions and counts must be lists", ErrInvalid)
	}
	if len(r.Tokens) > limits.MaxActivationKeyTokens {
		return fmt.Errorf("%w: %d tokens, at most %d", ErrInvalid, len(r.Tokens), limits.MaxActivationKeyTokens)
	}
	for i, t := range r.Tokens {
		if t.Version < 1 || t.Version > limits.MaxLicenseVersion || len(t.LicenseID) != 36 {
			return fmt.Errorf("%w: tokens[%d]: bad license id or version", ErrInvalid, i)
		}
		if i > 0 && r.Tokens[i-1].LicenseID >= t.LicenseID {
			return fmt.Errorf("%w: tokens must be sorted by license_id without duplicates", ErrInvalid)
		}
	}
	if err := checkDeductions(r.DeviceID, r.Deductions); err != nil {
		return err
	}
	return checkCounts(r.Counts)
}

func checkNonce(n string) error {
	if len(n) != NonceLen {
		return fmt.Errorf("%w: nonce must be %d base64url characters", ErrInvalid, NonceLen)
	}
	for i := 0; i < len(n); i++ {
		if c := n[i]; !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("%w: nonce has %q", ErrInvalid, c)
		}
	}
	return nil
}

// FreshAt is the time a report's freshness is checked against: the
// agent's wall clock, or its effective time in reports without one.
func (r *Report) FreshAt() int64 {
	if r.SentWall > 0 {
		return r.SentWall
	}
	return r.SentAt
}

func checkDeductions(reporter string, ds []Deduction) error {
	if len(ds) > limits.MaxSyncDeductions {
		return fmt.Errorf("%w: %d deductions, at most %d per report", ErrInvalid, len(ds), limits.MaxSyncDeductions)
	}
	for i, d := range ds {
		if d.DeviceID != "" {
			if err := ident.CheckID("deductions device_id", d.DeviceID); err != nil {
				return fmt.Errorf("%w: deductions[%d]: %v", ErrInvalid, i, err)
			}
			if d.DeviceID == reporter {
				return fmt.Errorf("%w: deductions[%d]: the reporter's own records have no device_id", ErrInvalid, i)
			}
		}
		sameDevice := i > 0 && d.DeviceID == ds[i-1].DeviceID
		switch {
		case d.Seq < 1:
			return fmt.Errorf("%w: deductions[%d]: seq %d", ErrInvalid, i, d.Seq)
		case i > 0 && d.DeviceID < ds[i-1].DeviceID:
			return fmt.Errorf("%w: deductions[%d]: device %q after %q (must ascend by device, then seq)", ErrInvalid, i, d.DeviceID, ds[i-1].DeviceID)
		case sameDevice && d.Seq == ds[i-1].Seq:
			return fmt.Errorf("%w: deductions[%d]: duplicate seq %d in one report", ErrInvalid, i, d.Seq)
		case sameDevice && d.Seq < ds[i-1].Seq:
			return fmt.Errorf("%w: deductions[%d]: seq %d after %d (must ascend)", ErrInvalid, i, d.Seq, ds[i-1].Seq)
		case len(d.LicenseID) != 36:
			return fmt.Errorf("%w: deductions[%d]: license_id", ErrInvalid, i)
		case d.At <= 0 || d.PaidUntil < d.At:
			return fmt.Errorf("%w: deductions[%d]: paid_until must not precede at", ErrInvalid, i)
		case d.Failed && (d.DaysBefore != 0 || d.DaysAfter != 0 || d.PaidUntil != d.At):
			return fmt.Errorf("%w: deductions[%d]: a failed deduction pays nothing (days 0 → 0, paid_until = at)", ErrInvalid, i)
		case !d.Failed && (d.DaysBefore < 1 || d.DaysAfter != d.DaysBefore-1):
			return fmt.Errorf("%w: deductions[%d]: a deduction takes exactly one day (%d → %d)", ErrInvalid, i, d.DaysBefore, d.DaysAfter)
		}
	}
	return nil
}

func checkCounts(cs []HourlyCount) error {
	if len(cs) > limits.MaxSyncCounts {
		return fmt.Errorf("%w: %d hourly counts, at most %d per report", ErrInvalid, len(cs), limits.MaxSyncCounts)
	}
	for i, c := range cs {
		if err := ident.CheckID("counts device_id", c.DeviceID); err != nil {
			return fmt.Errorf("%w: counts[%d]: %v", ErrInvalid, i, err)
		}
		if c.Hour <= 0 || c.Hour%3600 != 0 {
			return fmt.Errorf("%w: counts[%d]: hour %d is not the start of an hour", ErrInvalid, i, c.Hour)
		}
		if c.Accepted < 0 || c.Overage < 0 || c.Refused < 0 || c.Overage > c.Accepted {
			return fmt.Errorf("%w: counts[%d]: negative count or overage above accepted", ErrInvalid, i)
		}
		if err := c.CheckPossible(); err != nil {
			return fmt.Errorf("counts[%d]: %w", i, err)
		}
		if err := c.CheckRefusedBy(); err != nil {
			return fmt.Errorf("counts[%d]: %w", i, err)
		}
		if i > 0 {
			p := cs[i-1]
			if p.DeviceID > c.DeviceID || p.DeviceID == c.DeviceID && p.Hour >= c.Hour {
				return fmt.Errorf("%w: counts[%d]: not ascending by (device_id, hour) or duplicate", ErrInvalid, i)
			}
		}
	}
	return nil
}

// SignRequest signs a report as an online sync request with the device key.
func SignRequest(device *token.Signer, r *Report) (string, error) {
	return sign(device, token.KindSyncRequest, r)
}

// SignReceipt signs a report as an air-gap usage receipt with the device key.
func SignReceipt(device *token.Signer, r *Report) (string, error) {
	return sign(device, token.KindUsageReceipt, r)
}

func sign(s *token.Signer, k token.Kind, r *Report) (string, error) {
	if err := r.Validate(); err != nil {
		return "", err
	}
	p, err := token.EncodePayload(r)
	if err != nil {
		return "", err
	}
	return s.SignPayload(k, p)
}

// PeekDevice returns the device id a report claims, before its signature
// is checked, so the server can look up the device's key. Nothing else of
// an unverified report may be used.
func PeekDevice(k token.Kind, text string) (string, error) {
	env, err := token.Parse(k, text)
	if err != nil {
		return "", err
	}
	var r Report
	if err := token.DecodePayload(env.Payload, &r); err != nil {
		return "", err
	}
	if err := ident.CheckID("device_id", r.DeviceID); err != nil {
		return "", fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return r.DeviceID, nil
}

// OpenReportOf verifies a sync request or usage receipt (k) against the
// key of the device it names, which keyOf returns, and returns the
// validated report. The payload is decoded once: its device id picks the
// key, and nothing else of it is used before the signature verifies.
func OpenReportOf(k token.Kind, text string, keyOf func(deviceID string) (*token.Trust, error)) (*Report, error) {
	if k != token.KindSyncRequest && k != token.KindUsageReceipt {
		return nil, fmt.Errorf("%w: %s is not a report kind", token.ErrWrongKind, k)
	}
	env, err := token.Parse(k, text)
	if err != nil {
		return nil, err
	}
	var r Report
	if err := token.DecodePayload(env.Payload, &r); err != nil {
		return nil, err
	}
	if err := ident.CheckID("device_id", r.DeviceID); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	trust, err := keyOf(r.DeviceID)
	if err != nil {
		return nil, err
	}
	// Open parses the same text again (cheap: no JSON) and verifies it.
	if _, err := token.Open(trust, k, text); err != nil {
		return nil, err
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return &r, nil
}

// OpenReport verifies a sync request or usage receipt (k) against the
// device's key and returns the validated report.
func OpenReport(device *token.Trust, k token.Kind, text string) (*Report, error) {
	if k != token.KindSyncRequest && k != token.KindUsageReceipt {
		return nil, fmt.Errorf("%w: %s is not a report kind", token.ErrWrongKind, k)
	}
	env, err := token.Open(device, k, text)
	if err != nil {
		return nil, err
	}
	var r Report
	if err := token.DecodePayload(env.Payload, &r); err != nil {
		return nil, err
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return &r, nil
}
