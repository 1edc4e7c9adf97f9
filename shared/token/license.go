package token

import (
	"fmt"
	"time"

	"github.com/tollgate-iot/tollgate/shared/ident"
	"github.com/tollgate-iot/tollgate/shared/limits"
)

// License types, billing modes and enforcement modes as they appear in tokens.
const (
	TypeTrial    = "trial"
	TypeStandard = "standard"

	BillingTerm = "term"
	BillingDays = "days"

	EnforcementEnforce = "enforce"
	EnforcementReport  = "report"
)

// License is the payload of a license token: everything an agent needs to
// enforce one license on one device with no network. Field order and names
// are the wire format; every field is always present.
type License struct {
	// LicenseID is the license's UUID.
	LicenseID string `json:"license_id"`
	// Serial is the license's short human code.
	Serial string `json:"serial"`
	// CustomerID owns the license and names the device's telemetry topics.
	CustomerID string `json:"customer_id"`
	// DeviceID is the device the license is bound to.
	DeviceID string `json:"device_id"`
	// DeviceKey is the Fingerprint of the device's Ed25519 public key.
	DeviceKey string `json:"device_key"`
	// Models is the model range: patterns the device's model must match.
	Models []string `json:"models"`
	// Type is TypeTrial or TypeStandard.
	Type string `json:"type"`
	// Billing is BillingTerm or BillingDays.
	Billing string `json:"billing"`
	// MaxSamplesPerHour is the licensed rate; 0 means unlimited.
	MaxSamplesPerHour int64 `json:"max_samples_per_hour"`
	// Enforcement is EnforcementEnforce or EnforcementReport.
	Enforcement string `json:"enforcement"`
	// Features lists the licensed modules, sorted, without duplicates.
	Features []string `json:"features"`
	// MaxChildren caps a gateway's child devices; 0 means none allowed
	// beyond the gateway itself unless the license is not a gateway license.
	MaxChildren int64 `json:"max_children"`
	// NotBefore and NotAfter bound the validity window, in Unix seconds.
	NotBefore int64 `json:"not_before"`
	NotAfter  int64 `json:"not_after"`
	// Days is, for day licenses, the number of days the agent may deduct
	// locally beyond DaysThroughSeq; 0 for term licenses.
	Days int64 `json:"days"`
	// DaysThroughSeq is the device deduction sequence number up to which the
	// server had accounted when it issued this token: the agent's own
	// deductions numbered above it are charged against Days.
	DaysThroughSeq int64 `json:"days_through_seq"`
	// MaxOfflineSeconds is how long the agent may go without a fresh
	// revocation list before it fails closed; 0 means unlimited (air-gapped).
	MaxOfflineSeconds int64 `json:"max_offline_seconds"`
	// Version grows with every change that alters the token (1..MaxLicenseVersion).
	Version int64 `json:"version"`
	// IssuedAt is when the server signed the token, in Unix seconds.
	IssuedAt int64 `json:"issued_at"`
}

// Validate checks every field of l on its own, with no clock and no key.
func (l *License) Validate() error {
	if !isUUID(l.LicenseID) {
		return fmt.Errorf("%w: license_id %q is not a lowercase UUID", ErrMalformed, l.LicenseID)
	}
	if l.Serial == "" || len(l.Serial) > limits.MaxSerialLen {
		return fmt.Errorf("%w: serial must be 1..%d bytes", ErrMalformed, limits.MaxSerialLen)
	}
	if err := ident.CheckID("serial", l.Serial); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if err := ident.CheckID("customer_id", l.CustomerID); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if err := ident.CheckID("device_id", l.DeviceID); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(l.DeviceKey) != 64 || !lowerHex(l.DeviceKey) {
		return fmt.Errorf("%w: device_key must be 64 lowercase hex digits", ErrMalformed)
	}
	if len(l.Models) == 0 || len(l.Models) > limits.MaxModelPatterns {
		return fmt.Errorf("%w: models must list 1..%d patterns", ErrMalformed, limits.MaxModelPatterns)
	}
	for _, m := range l.Models {
		if err := ident.CheckModelPattern(m); err != nil {
			return fmt.Errorf("%w: %v", ErrMalformed, err)
		}
	}
	if l.Type != TypeTrial && l.Type != TypeStandard {
		return fmt.Errorf("%w: type %q", ErrMalformed, l.Type)
	}
	if l.Billing != BillingTerm && l.Billing != BillingDays {
		return fmt.Errorf("%w: billing %q", ErrMalformed, l.Billing)
	}
	if l.MaxSamplesPerHour < 0 || l.MaxSamplesPerHour > limits.MaxSamplesPerHour {
		return fmt.Errorf("%w: max_samples_per_hour %d out of 0..%d", ErrMalformed, l.MaxSamplesPerHour, limits.MaxSamplesPerHour)
	}
	if l.Enforcement != EnforcementEnforce && l.Enforcement != EnforcementReport {
		return fmt.Errorf("%w: enforcement %q", ErrMalformed, l.Enforcement)
	}
	if l.Features == nil || len(l.Features) > limits.MaxFeatures {
		return fmt.Errorf("%w: features must be a list of at most %d names", ErrMalformed, limits.MaxFeatures)
	}
	for i, f := range l.Features {
		if err := ident.CheckFeature(f); err != nil {
			return fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		if i > 0 && l.Features[i-1] >= f {
			return fmt.Errorf("%w: features must be sorted and unique", ErrMalformed)
		}
	}
	if l.MaxChildren < 0 || l.MaxChildren > 1<<20 {
		return fmt.Errorf("%w: max_children %d out of range", ErrMalformed, l.MaxChildren)
	}
	if l.NotBefore < 0 || l.NotAfter <= l.NotBefore {
		return fmt.Errorf("%w: validity window [%d, %d) is empty", ErrMalformed, l.NotBefore, l.NotAfter)
	}
	if l.Days < 0 || l.Days > limits.MaxPrepaidDays {
		return fmt.Errorf("%w: days %d out of 0..%d", ErrMalformed, l.Days, limits.MaxPrepaidDays)
	}
	if l.Billing == BillingTerm && l.Days != 0 {
		return fmt.Errorf("%w: a term license pre-authorizes no days", ErrMalformed)
	}
	if l.DaysThroughSeq < 0 || l.MaxOfflineSeconds < 0 || l.IssuedAt < 0 {
		return fmt.Errorf("%w: negative days_through_seq, max_offline_seconds or issued_at", ErrMalformed)
	}
	if l.Version < 1 || l.Version > limits.MaxLicenseVersion {
		return fmt.Errorf("%w: version %d out of 1..%d", ErrMalformed, l.Version, int64(limits.MaxLicenseVersion))
	}
	return nil
}

// CheckTime reports whether now lies in the validity window [NotBefore, NotAfter).
func (l *License) CheckTime(now time.Time) error {
	t := now.Unix()
	if t < l.NotBefore {
		return fmt.Errorf("%w: license %s starts %s", ErrNotYetValid, l.LicenseID, time.Unix(l.NotBefore, 0).UTC().Format(time.RFC3339))
	}
	if t >= l.NotAfter {
		return fmt.Errorf("%w: license %s ended %s", ErrExpired, l.LicenseID, time.Unix(l.NotAfter, 0).UTC().Format(time.RFC3339))
	}
	return nil
}

// IssueLicense validates l and signs it as a license token.
func IssueLicense(s *Signer, l *License) (string, error) {
	if err := l.Validate(); err != nil {
		return "", err
	}
	p, err := encodeCanonical(l)
	if err != nil {
		return "", err
	}
	return s.SignPayload(KindLicense, p)
}

// ParseLicense checks the signature and the fields of a license token but not
// its validity window: the agent applies its own effective time.
func ParseLicense(trust *Trust, text string) (*License, error) {
	env, err := Open(trust, KindLicense, text)
	if err != nil {
		return nil, err
	}
	var l License
	if err := decodePayload(env.Payload, &l); err != nil {
		return nil, err
	}
	if err := l.Validate(); err != nil {
		return nil, err
	}
	return &l, nil
}

// Verify parses a license token, verifies it against trust and checks that
// now lies in its validity window. Errors wrap the sentinels of this package.
func Verify(trust *Trust, text string, now time.Time) (*License, error) {
	l, err := ParseLicense(trust, text)
	if err != nil {
		return nil, err
	}
	if err := l.CheckTime(now); err != nil {
		return nil, err
	}
	return l, nil
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return false
			}
		}
	}
	return true
}
