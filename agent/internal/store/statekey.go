package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/tollgate-iot/tollgate/agent/internal/limits"
)

// ErrInsecureKeyFile reports a key file readable or writable by others.
var ErrInsecureKeyFile = errors.New("key file is accessible to group or others")

// KeyProvider yields the key that encrypts the state database at rest.
//
// This is the seam for hardware: a TPM 2.0 implementation would keep the key
// sealed to the device's PCRs and unseal it here (github.com/google/go-tpm is
// already in the module graph), a secure element would return a key it
// derives internally. Tollgate ships only FileKeyProvider; it does not
// pretend to have a hardware one.
type KeyProvider interface {
	// StateKey returns the key, creating it on first use if create is true.
	StateKey(ctx context.Context, create bool) ([]byte, error)
}

// FileKeyProvider keeps the state key in a file (hex, mode 0600) that lives
// apart from the database directory, so that a copy of the database alone
// (a backup, a stolen SD card image of the data partition when the key sits
// on another one) does not reveal tokens, deductions or telemetry.
type FileKeyProvider struct {
	// Path is the key file.
	Path string
}

// StateKey reads the key file, or creates it with a fresh random key.
func (p FileKeyProvider) StateKey(ctx context.Context, create bool) ([]byte, error) {
	key, err := readKeyFile(p.Path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) || !create {
		return key, err
	}
	key = make([]byte, limits.StateKeyBytes)
	if _, err := io.ReadFull(rand.Reader, key); err != nil {
		return nil, fmt.Errorf("state key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(p.Path), 0o700); err != nil {
		return nil, fmt.Errorf("state key: %w", err)
	}
	f, err := os.OpenFile(p.Path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("state key: %w", err)
	}
	_, werr := f.WriteString(hex.EncodeToString(key) + "\n")
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return nil, fmt.Errorf("state key: %w", err)
	}
	return key, nil
}

func readKeyFile(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("state key: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %v", ErrInsecureKeyFile, path, st.Mode().Perm())
	}
	if st.Size() > 2*limits.StateKeyBytes+2 {
		return nil, fmt.Errorf("%w: state key file %s is %d bytes", ErrCorrupt, path, st.Size())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("state key: %w", err)
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(key) != limits.StateKeyBytes {
		return nil, fmt.Errorf("%w: state key file %s must hold %d hex bytes", ErrCorrupt, path, limits.StateKeyBytes)
	}
	return key, nil
}
