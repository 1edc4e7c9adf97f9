package keys

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/shared/clock"
	"github.com/tollgate-iot/tollgate/shared/token"
)

var start = time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)

func sampleLicense() *token.License {
	return &token.License{
		LicenseID: "6f1c2a7e-0b3d-4e5f-8a9b-0c1d2e3f4a5b", Serial: "TG-1", CustomerID: "c1",
		DeviceID: "d1", DeviceKey: strings.Repeat("ab", 32), Models: []string{"*"},
		Type: token.TypeStandard, Billing: token.BillingTerm, Enforcement: token.EnforcementEnforce,
		Features: []string{}, NotBefore: start.Unix(), NotAfter: start.Add(time.Hour).Unix(),
		Version: 1, IssuedAt: start.Unix(),
	}
}

func TestEmptyStoreHasNoKeys(t *testing.T) {
	s, err := Open(t.TempDir(), clock.NewFake(start))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Active(); !errors.Is(err, ErrNoKeys) {
		t.Fatalf("Active on empty store = %v, want ErrNoKeys", err)
	}
	if _, err := s.List(); !errors.Is(err, ErrNoKeys) {
		t.Fatalf("List on empty store = %v, want ErrNoKeys", err)
	}
}

func TestRotateKeepsOldKeysVerifiable(t *testing.T) {
	dir := t.TempDir()
	clk := clock.NewFake(start)
	s, err := Open(dir, clk)
	if err != nil {
		t.Fatal(err)
	}
	first, err := s.Rotate()
	if err != nil {
		t.Fatal(err)
	}
	signer1, err := s.Active()
	if err != nil {
		t.Fatal(err)
	}
	old, err := token.IssueLicense(signer1, sampleLicense())
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(24 * time.Hour)
	second, err := s.Rotate()
	if err != nil {
		t.Fatal(err)
	}
	if second.ID == first.ID {
		t.Fatal("rotation kept the same key id")
	}
	signer2, _ := s.Active()
	if signer2.KeyID() != second.ID {
		t.Fatalf("active key %s, want the new %s", signer2.KeyID(), second.ID)
	}
	// A restart (new Store on the same directory) sees both keys.
	s2, err := Open(dir, clk)
	if err != nil {
		t.Fatal(err)
	}
	infos, err := s2.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 2 || infos[0].Active || !infos[1].Active || !infos[1].Created.Equal(start.Add(24*time.Hour)) {
		t.Fatalf("List = %+v", infos)
	}
	trust, err := s2.Trust()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := token.Verify(trust, old, start); err != nil {
		t.Fatalf("token signed before rotation no longer verifies: %v", err)
	}
	// The trust bundle file round-trips.
	if _, err := token.ParseTrustBundle(token.MarshalTrustBundle(trust)); err != nil {
		t.Fatal(err)
	}
}

func TestKeyFilesArePrivate(t *testing.T) {
	dir := t.TempDir()
	s, _ := Open(dir, nil)
	info, err := s.Rotate()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{info.ID + ".pem", indexName} {
		st, err := os.Stat(filepath.Join(dir, dirName, name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Fatalf("%s has mode %v, want 0600", name, st.Mode().Perm())
		}
	}
	if err := os.Chmod(filepath.Join(dir, dirName, info.ID+".pem"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Active(); !errors.Is(err, ErrInsecureFile) {
		t.Fatalf("Active with a world-readable key = %v, want ErrInsecureFile", err)
	}
}

func TestCorruptStoreIsRefused(t *testing.T) {
	tests := []struct {
		name  string
		spoil func(dir, id string) error
	}{
		{"garbage-key", func(dir, id string) error {
			return os.WriteFile(filepath.Join(dir, id+".pem"), []byte("not pem"), 0o600)
		}},
		{"swapped-key", func(dir, id string) error {
			other, _ := Open(t.TempDir(), nil)
			o, _ := other.Rotate()
			b, err := os.ReadFile(filepath.Join(other.dir, o.ID+".pem"))
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dir, id+".pem"), b, 0o600)
		}},
		{"index-names-missing-active", func(dir, id string) error {
			return os.WriteFile(filepath.Join(dir, indexName), []byte(`{"active":"0000000000000000","keys":[{"id":"`+id+`"}]}`), 0o600)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := Open(t.TempDir(), nil)
			info, err := s.Rotate()
			if err != nil {
				t.Fatal(err)
			}
			if err := tt.spoil(s.dir, info.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Active(); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Active = %v, want ErrCorrupt", err)
			}
		})
	}
}
