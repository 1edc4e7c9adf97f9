package store

import (
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/shared/token"
)

func openTest(t *testing.T, dir string, key []byte) *Store {
	t.Helper()
	s, err := Open(context.Background(), Options{Dir: dir, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func testKey() []byte { k := sha256.Sum256([]byte("state")); return k[:] }

func TestOpenKeyAndLock(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, testKey())
	if err := s.Init(Identity{DeviceID: "dev-1", Model: "TG-100"}, []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if err := s.Init(Identity{DeviceID: "dev-1"}, nil); !errors.Is(err, ErrExists) {
		t.Fatalf("second init: %v, want ErrExists", err)
	}
	if _, err := Open(context.Background(), Options{Dir: dir, Key: testKey()}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: %v, want ErrLocked", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	other := sha256.Sum256([]byte("other"))
	if _, err := Open(context.Background(), Options{Dir: dir, Key: other[:]}); !errors.Is(err, ErrBadKey) {
		t.Fatalf("open with wrong key: %v, want ErrBadKey", err)
	}
	s = openTest(t, dir, testKey())
	defer s.Close()
	id, err := s.Identity()
	if err != nil || id.DeviceID != "dev-1" {
		t.Fatalf("identity = %+v, %v", id, err)
	}
}

func TestEncryptedAtRest(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, testKey())
	secret := "SECRET-TOKEN-TEXT-THAT-MUST-NOT-BE-PLAIN"
	if err := s.PutRevocation(secret); err != nil {
		t.Fatal(err)
	}
	s.Close()
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if contains(b, secret) {
			t.Fatalf("%s holds the plaintext", f)
		}
	}
}

func contains(b []byte, s string) bool {
	for i := 0; i+len(s) <= len(b); i++ {
		if string(b[i:i+len(s)]) == s {
			return true
		}
	}
	return false
}

func TestPutTokenRollback(t *testing.T) {
	s := openTest(t, t.TempDir(), testKey())
	defer s.Close()
	l := &token.License{LicenseID: "6f1c2a7e-0b3d-4e5f-8a9b-0c1d2e3f4a5b", Version: 3}
	tests := []struct {
		name      string
		version   int64
		text      string
		wantNewer bool
		wantErr   error
	}{
		{"ok/first", 3, "v3", true, nil},
		{"ok/same", 3, "v3", false, nil},
		{"error/same-version-other-content", 3, "v3b", false, ErrRollback},
		{"ok/newer", 4, "v4", true, nil},
		{"error/rollback", 3, "v3", false, ErrRollback},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l.Version = tt.version
			newer, err := s.PutToken(l, tt.text)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) || newer != tt.wantNewer {
				t.Fatalf("PutToken = %v, %v; want %v, %v", newer, err, tt.wantNewer, tt.wantErr)
			}
		})
	}
	toks, err := s.Tokens()
	if err != nil || len(toks) != 1 || toks[0] != "v4" {
		t.Fatalf("tokens = %v, %v", toks, err)
	}
}

func TestAppendDeductionSequence(t *testing.T) {
	s := openTest(t, t.TempDir(), testKey())
	defer s.Close()
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC).Unix()
	for seq := int64(1); seq <= 3; seq++ {
		d := Deduction{Seq: seq, DeviceID: "dev", LicenseID: "l", At: now, PaidUntil: now + 86400}
		if err := s.AppendDeduction(d); err != nil {
			t.Fatal(err)
		}
	}
	for _, seq := range []int64{3, 1} {
		if err := s.AppendDeduction(Deduction{Seq: seq, DeviceID: "dev"}); !errors.Is(err, ErrSeqOrder) {
			t.Fatalf("seq %d: %v, want ErrSeqOrder", seq, err)
		}
	}
	ds, err := s.Deductions("dev")
	if err != nil || len(ds) != 3 || ds[2].Seq != 3 {
		t.Fatalf("deductions = %+v, %v", ds, err)
	}
	if n, _ := s.DeductionSeq("dev"); n != 3 {
		t.Fatalf("DeductionSeq = %d", n)
	}
}

func TestFileKeyProvider(t *testing.T) {
	dir := t.TempDir()
	p := FileKeyProvider{Path: filepath.Join(dir, "secrets", "state.key")}
	if _, err := p.StateKey(context.Background(), false); err == nil {
		t.Fatal("missing key file without create succeeded")
	}
	k1, err := p.StateKey(context.Background(), true)
	if err != nil || len(k1) != 32 {
		t.Fatalf("create: %v", err)
	}
	k2, err := p.StateKey(context.Background(), false)
	if err != nil || string(k1) != string(k2) {
		t.Fatalf("reload: %v", err)
	}
	st, _ := os.Stat(p.Path)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode().Perm())
	}
	os.Chmod(p.Path, 0o644)
	if _, err := p.StateKey(context.Background(), false); !errors.Is(err, ErrInsecureKeyFile) {
		t.Fatalf("world-readable key: %v", err)
	}
}

func FuzzReadKeyFile(f *testing.F) {
	f.Add([]byte("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n"))
	f.Add([]byte("zz"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(dir, "k")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		key, err := readKeyFile(p)
		if err == nil && len(key) != 32 {
			t.Fatalf("accepted a %d-byte key", len(key))
		}
	})
}
