package token

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate-iot/tollgate/shared/ident"
	"github.com/tollgate-iot/tollgate/shared/limits"
)

// RevocationList is the server's signed deny list for one device. The
// server signs a list per device (DeviceID): it names only that device,
// its gateway children, and the licenses of which they may hold a token,
// so no device learns another customer's revocations. Its sequence is the
// server's global one and only grows; agents keep the newest list they
// have seen, refuse older ones and refuse a list signed for another
// device.
type RevocationList struct {
	// DeviceID is the device the list was signed for: the agent that
	// enforces it (a gateway's list covers its children).
	DeviceID string `json:"device_id"`
	// Seq grows by at least one with every change.
	Seq int64 `json:"seq"`
	// IssuedAt is when the server signed the list, in Unix seconds.
	IssuedAt int64 `json:"issued_at"`
	// NextUpdate is when the server will have signed a newer list at the
	// latest, in Unix seconds.
	NextUpdate int64 `json:"next_update"`
	// RevokedLicenses are license ids terminated for good, sorted.
	RevokedLicenses []string `json:"revoked_licenses"`
	// SuspendedLicenses are license ids denied until resumed, sorted.
	SuspendedLicenses []string `json:"suspended_licenses"`
	// BlacklistedDevices are device ids that may not report data, sorted.
	BlacklistedDevices []string `json:"blacklisted_devices"`
	// SupersededLicenses are "LICENSE_ID:VERSION" entries, sorted, one per
	// license: every token of that license below VERSION is void. A device
	// that lost a license (unbind, transfer, replacement, rebind) keeps its
	// old token until this list reaches it; then it stops.
	SupersededLicenses []string `json:"superseded_licenses"`
}

// Validate checks the list's fields on their own.
func (r *RevocationList) Validate() error {
	if r.Seq < 1 || r.Seq > limits.MaxLicenseVersion {
		return fmt.Errorf("%w: revocation list seq %d out of 1..%d", ErrMalformed, r.Seq, int64(limits.MaxLicenseVersion))
	}
	if r.IssuedAt < 0 || r.NextUpdate <= r.IssuedAt {
		return fmt.Errorf("%w: revocation list next_update must follow issued_at", ErrMalformed)
	}
	if err := ident.CheckID("device_id", r.DeviceID); err != nil {
		return fmt.Errorf("%w: revocation list: %v", ErrMalformed, err)
	}
	if err := checkIDList("revoked_licenses", r.RevokedLicenses, isUUIDErr); err != nil {
		return err
	}
	if err := checkIDList("suspended_licenses", r.SuspendedLicenses, isUUIDErr); err != nil {
		return err
	}
	if len(r.BlacklistedDevices) > limits.MaxRevocationDevices {
		return fmt.Errorf("%w: blacklisted_devices has %d entries, at most %d", ErrTooLarge, len(r.BlacklistedDevices), limits.MaxRevocationDevices)
	}
	if err := checkIDList("blacklisted_devices", r.BlacklistedDevices, func(s string) error { return ident.CheckID("device_id", s) }); err != nil {
		return err
	}
	if err := checkIDList("superseded_licenses", r.SupersededLicenses, checkSuperseded); err != nil {
		return err
	}
	for i := 1; i < len(r.SupersededLicenses); i++ {
		if r.SupersededLicenses[i][:36] == r.SupersededLicenses[i-1][:36] {
			return fmt.Errorf("%w: superseded_licenses names license %s twice", ErrMalformed, r.SupersededLicenses[i][:36])
		}
	}
	return nil
}

// checkSuperseded checks one "LICENSE_ID:VERSION" entry.
func checkSuperseded(s string) error {
	id, v, ok := strings.Cut(s, ":")
	if !ok || !isUUID(id) {
		return fmt.Errorf("%q is not LICENSE_ID:VERSION", s)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 2 || n > limits.MaxLicenseVersion || strconv.FormatInt(n, 10) != v {
		return fmt.Errorf("%q: version must be a canonical integer in 2..%d", s, int64(limits.MaxLicenseVersion))
	}
	return nil
}

// SupersededEntry returns the revocation-list entry that voids every token
// of licenseID below version.
func SupersededEntry(licenseID string, version int64) string {
	return licenseID + ":" + strconv.FormatInt(version, 10)
}

// MinVersion returns the lowest token version of licenseID that is still
// valid, or 0 if the list supersedes none.
func (r *RevocationList) MinVersion(licenseID string) int64 {
	i, _ := slices.BinarySearch(r.SupersededLicenses, licenseID+":")
	if i == len(r.SupersededLicenses) {
		return 0
	}
	id, v, _ := strings.Cut(r.SupersededLicenses[i], ":")
	if id != licenseID {
		return 0
	}
	n, _ := strconv.ParseInt(v, 10, 64) // checked by Validate
	return n
}

func isUUIDErr(s string) error {
	if !isUUID(s) {
		return fmt.Errorf("%q is not a lowercase UUID", s)
	}
	return nil
}

func checkIDList(name string, ids []string, check func(string) error) error {
	if ids == nil {
		return fmt.Errorf("%w: %s must be a list", ErrMalformed, name)
	}
	if len(ids) > limits.MaxRevocationEntries {
		return fmt.Errorf("%w: %s has %d entries, at most %d", ErrTooLarge, name, len(ids), limits.MaxRevocationEntries)
	}
	for i, id := range ids {
		if err := check(id); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrMalformed, name, err)
		}
		if i > 0 && ids[i-1] >= id {
			return fmt.Errorf("%w: %s must be sorted and unique", ErrMalformed, name)
		}
	}
	return nil
}

// LicenseRevoked reports whether id is revoked.
func (r *RevocationList) LicenseRevoked(id string) bool {
	_, ok := slices.BinarySearch(r.RevokedLicenses, id)
	return ok
}

// LicenseSuspended reports whether id is suspended.
func (r *RevocationList) LicenseSuspended(id string) bool {
	_, ok := slices.BinarySearch(r.SuspendedLicenses, id)
	return ok
}

// DeviceBlacklisted reports whether the device id is blacklisted.
func (r *RevocationList) DeviceBlacklisted(id string) bool {
	_, ok := slices.BinarySearch(r.BlacklistedDevices, id)
	return ok
}

// Fresh reports whether the list is recent enough for a license that allows
// maxOffline without contact; maxOffline 0 means unlimited.
func (r *RevocationList) Fresh(now time.Time, maxOffline time.Duration) bool {
	if maxOffline <= 0 {
		return true
	}
	return now.Before(time.Unix(r.IssuedAt, 0).Add(maxOffline))
}

// IssueRevocationList sorts r's lists, validates it and signs it.
func IssueRevocationList(s *Signer, r *RevocationList) (string, error) {
	for _, l := range []*[]string{&r.RevokedLicenses, &r.SuspendedLicenses, &r.BlacklistedDevices, &r.SupersededLicenses} {
		if *l == nil {
			*l = []string{}
		}
		slices.Sort(*l)
		*l = slices.Compact(*l)
	}
	if err := r.Validate(); err != nil {
		return "", err
	}
	p, err := encodeCanonical(r)
	if err != nil {
		return "", err
	}
	return s.SignPayload(KindRevocation, p)
}

// ParseRevocationList verifies a revocation list against trust and parses it.
func ParseRevocationList(trust *Trust, text string) (*RevocationList, error) {
	env, err := Open(trust, KindRevocation, text)
	if err != nil {
		return nil, err
	}
	var r RevocationList
	if err := decodePayload(env.Payload, &r); err != nil {
		return nil, err
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return &r, nil
}

// CheckScope refuses a list signed for another device than deviceID: a
// list from another scope names other ids, and would hide the device's own
// revocation.
func (r *RevocationList) CheckScope(deviceID string) error {
	if r.DeviceID != deviceID {
		return fmt.Errorf("%w: revocation list signed for %s, this device is %s", ErrWrongScope, r.DeviceID, deviceID)
	}
	return nil
}

// CheckNewer refuses incoming if it is older than held: a lower sequence, or
// the same sequence with other content (a list cannot change without its
// sequence growing). A nil held accepts anything.
func CheckNewer(held, incoming *RevocationList) error {
	if held == nil {
		return nil
	}
	if incoming.Seq < held.Seq {
		return fmt.Errorf("%w: revocation list seq %d, already hold %d", ErrRollback, incoming.Seq, held.Seq)
	}
	if incoming.Seq == held.Seq && !sameList(held, incoming) {
		return fmt.Errorf("%w: revocation list seq %d with different content", ErrRollback, incoming.Seq)
	}
	return nil
}

func sameList(a, b *RevocationList) bool {
	return a.DeviceID == b.DeviceID && a.IssuedAt == b.IssuedAt && a.NextUpdate == b.NextUpdate &&
		slices.Equal(a.RevokedLicenses, b.RevokedLicenses) &&
		slices.Equal(a.SuspendedLicenses, b.SuspendedLicenses) &&
		slices.Equal(a.BlacklistedDevices, b.BlacklistedDevices) &&
		slices.Equal(a.SupersededLicenses, b.SupersededLicenses)
}
