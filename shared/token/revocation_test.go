package token

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestGoldenRevocationListVerifies(t *testing.T) {
	text, err := IssueRevocationList(testSigner(t, "server"), goldenRevocation())
	if err != nil {
		t.Fatal(err)
	}
	want := golden(t, "revocation.tok", text)
	if text != want {
		t.Fatalf("golden revocation list changed:\n got %s\nwant %s", text, want)
	}
	trust, err := ParseTrustBundle(mustRead(t, "testdata/trust.json"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseRevocationList(trust, want)
	if err != nil {
		t.Fatal(err)
	}
	if !r.LicenseRevoked("6f1c2a7e-0b3d-4e5f-8a9b-0c1d2e3f4a5b") || r.LicenseRevoked("6f1c2a7e-0b3d-4e5f-8a9b-0c1d2e3f4a5c") {
		t.Fatal("LicenseRevoked gives the wrong answer")
	}
	if !r.LicenseSuspended("0b000000-0000-4000-8000-000000000002") || !r.DeviceBlacklisted("pump-0099") || r.DeviceBlacklisted("pump-0042") {
		t.Fatal("suspended or blacklisted lookups give the wrong answer")
	}
}

func TestMinVersion(t *testing.T) {
	r := goldenRevocation()
	r.SupersededLicenses = []string{
		SupersededEntry("0a000000-0000-4000-8000-000000000001", 12),
		SupersededEntry("0c000000-0000-4000-8000-000000000003", 4),
	}
	tests := []struct {
		id   string
		want int64
	}{
		{"0a000000-0000-4000-8000-000000000001", 12},
		{"0c000000-0000-4000-8000-000000000003", 4},
		{"0b000000-0000-4000-8000-000000000002", 0},
		{"ffffffff-0000-4000-8000-000000000009", 0},
		{"0", 0},
	}
	for _, tt := range tests {
		if got := r.MinVersion(tt.id); got != tt.want {
			t.Errorf("MinVersion(%s) = %d, want %d", tt.id, got, tt.want)
		}
	}
	if _, err := IssueRevocationList(testSigner(t, "server"), r); err != nil {
		t.Fatalf("a list with superseded entries does not issue: %v", err)
	}
}

func revocationWith(t *testing.T, f func(string) string) string {
	t.Helper()
	r := goldenRevocation()
	p, err := encodeCanonical(r)
	if err != nil {
		t.Fatal(err)
	}
	return signRaw(t, KindRevocation, f(string(p)))
}

func TestParseRevocationList(t *testing.T) {
	trust := testTrust(t, "server")
	good, _ := IssueRevocationList(testSigner(t, "server"), goldenRevocation())
	license, _ := IssueLicense(testSigner(t, "server"), goldenLicense())
	parts := splitToken(t, good)
	tests := []struct {
		name string
		text string
		want error
	}{
		{"ok", good, nil},
		{"error/license-token-as-list", license, ErrWrongKind},
		{"error/signed-as-license", signRaw(t, KindLicense, string(mustPayload(t, good))), ErrWrongKind},
		{"error/other-kind-signature", strings.Join([]string{parts[0], parts[1], parts[2], splitToken(t, signRaw(t, KindLicense, string(mustPayload(t, good))))[3], splitToken(t, signRaw(t, KindLicense, string(mustPayload(t, good))))[4]}, "."), ErrBadSignature},
		{"error/unsorted", revocationWith(t, func(p string) string {
			return strings.Replace(p, `"0a000000-0000-4000-8000-000000000001","6f1c2a7e-0b3d-4e5f-8a9b-0c1d2e3f4a5b"`, `"6f1c2a7e-0b3d-4e5f-8a9b-0c1d2e3f4a5b","0a000000-0000-4000-8000-000000000001"`, 1)
		}), ErrMalformed},
		{"error/duplicate-entry", revocationWith(t, func(p string) string {
			return strings.Replace(p, `"blacklisted_devices":["pump-0099"]`, `"blacklisted_devices":["pump-0099","pump-0099"]`, 1)
		}), ErrMalformed},
		{"error/null-list", revocationWith(t, func(p string) string {
			return strings.Replace(p, `"blacklisted_devices":["pump-0099"]`, `"blacklisted_devices":null`, 1)
		}), ErrMalformed},
		{"error/duplicate-key", revocationWith(t, func(p string) string { return strings.Replace(p, `"seq":7`, `"seq":9,"seq":7`, 1) }), ErrMalformed},
		{"error/seq-0", revocationWith(t, func(p string) string { return strings.Replace(p, `"seq":7`, `"seq":0`, 1) }), ErrMalformed},
		{"error/no-scope", revocationWith(t, func(p string) string { return strings.Replace(p, `"device_id":"pump-0042",`, ``, 1) }), ErrMalformed},
		{"error/bad-scope", revocationWith(t, func(p string) string { return strings.Replace(p, `"pump-0042"`, `"pump/0042"`, 1) }), ErrMalformed},
		{"error/bad-device-id", revocationWith(t, func(p string) string { return strings.Replace(p, `"pump-0099"`, `"pump/0099"`, 1) }), ErrMalformed},
		{"error/superseded-twice", revocationWith(t, func(p string) string {
			return strings.Replace(p, `"superseded_licenses":["0c000000-0000-4000-8000-000000000003:4"]`, `"superseded_licenses":["0c000000-0000-4000-8000-000000000003:4","0c000000-0000-4000-8000-000000000003:5"]`, 1)
		}), ErrMalformed},
		{"error/superseded-version-not-canonical", revocationWith(t, func(p string) string {
			return strings.Replace(p, `000000000003:4"`, `000000000003:04"`, 1)
		}), ErrMalformed},
		{"error/superseded-version-1", revocationWith(t, func(p string) string {
			return strings.Replace(p, `000000000003:4"`, `000000000003:1"`, 1)
		}), ErrMalformed},
		{"error/superseded-no-version", revocationWith(t, func(p string) string {
			return strings.Replace(p, `000000000003:4"`, `000000000003"`, 1)
		}), ErrMalformed},
		{"error/over-size-cap", good + strings.Repeat("A", 2<<20), ErrTooLarge},
		{"error/truncated", good[:len(good)-3], ErrMalformed},
		{"error/unknown-key", mustIssueRevocation(t, "stranger"), ErrUnknownKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseRevocationList(trust, tt.text)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("ParseRevocationList = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestCheckScope(t *testing.T) {
	r := goldenRevocation()
	if err := r.CheckScope("pump-0042"); err != nil {
		t.Fatalf("own scope: %v", err)
	}
	for _, other := range []string{"pump-0099", "", "PUMP-0042"} {
		if err := r.CheckScope(other); !errors.Is(err, ErrWrongScope) {
			t.Fatalf("CheckScope(%q) = %v, want %v", other, err, ErrWrongScope)
		}
	}
}

func TestCheckNewer(t *testing.T) {
	held := goldenRevocation()
	newer := goldenRevocation()
	newer.Seq = 8
	older := goldenRevocation()
	older.Seq = 6
	forked := goldenRevocation()
	forked.BlacklistedDevices = []string{}
	tests := []struct {
		name     string
		held, in *RevocationList
		want     error
	}{
		{"ok/first", nil, older, nil},
		{"ok/newer", held, newer, nil},
		{"ok/same", held, goldenRevocation(), nil},
		{"error/older", held, older, ErrRollback},
		{"error/same-seq-other-content", held, forked, ErrRollback},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckNewer(tt.held, tt.in)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("CheckNewer = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestRevocationListFresh(t *testing.T) {
	r := goldenRevocation()
	issued := time.Unix(r.IssuedAt, 0)
	if !r.Fresh(issued.Add(13*24*time.Hour), 14*24*time.Hour) {
		t.Fatal("list 13 days old is stale under a 14-day max_offline")
	}
	if r.Fresh(issued.Add(14*24*time.Hour), 14*24*time.Hour) {
		t.Fatal("list 14 days old is fresh under a 14-day max_offline")
	}
	if !r.Fresh(issued.Add(5*365*24*time.Hour), 0) {
		t.Fatal("max_offline 0 (air-gapped) must never go stale")
	}
}

func mustPayload(t *testing.T, text string) []byte {
	t.Helper()
	env, err := Parse(KindRevocation, text)
	if err != nil {
		t.Fatal(err)
	}
	return env.Payload
}

func mustIssueRevocation(t *testing.T, signer string) string {
	t.Helper()
	text, err := IssueRevocationList(testSigner(t, signer), goldenRevocation())
	if err != nil {
		t.Fatal(err)
	}
	return text
}
