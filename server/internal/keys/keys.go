// Package keys keeps the server's Ed25519 signing keys in its data
// directory: one PKCS#8 PEM file per key (mode 0600) and an index naming the
// active key. Rotation adds a new active key and keeps every old one, so
// tokens signed before the rotation still verify against the trust bundle.
package keys

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/tollgate-iot/tollgate/shared/clock"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// ErrNoKeys reports a data directory without signing keys.
var ErrNoKeys = errors.New("no signing keys (run tollgate-server init or keys rotate)")

// ErrInsecureFile reports a key file or directory readable by others.
var ErrInsecureFile = errors.New("key file is accessible to group or others")

// ErrCorrupt reports a key file or index that does not parse or does not match.
var ErrCorrupt = errors.New("key store is corrupt")

const (
	dirName   = "keys"
	indexName = "index.json"
	// maxKeyFileBytes bounds what is read from the key directory.
	maxKeyFileBytes = 16 << 10
)

// Info describes one signing key; it never holds private material.
type Info struct {
	ID        string    `json:"id"`
	Created   time.Time `json:"created"`
	Active    bool      `json:"active"`
	PublicKey string    `json:"public_key"`
}

type index struct {
	Active string       `json:"active"`
	Keys   []indexEntry `json:"keys"`
}

type indexEntry struct {
	ID      string    `json:"id"`
	Created time.Time `json:"created"`
}

// Store is the key directory of one server data directory. It is safe for
// concurrent use within one process.
type Store struct {
	dir   string
	clock clock.Clock
	mu    sync.Mutex
}

// Open returns the store under dataDir, creating the key directory (0700) if
// it is missing. A nil clock means the real one.
func Open(dataDir string, clk clock.Clock) (*Store, error) {
	dir := filepath.Join(dataDir, dirName)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %v", ErrInsecureFile, dir, st.Mode().Perm())
	}
	return &Store{dir: dir, clock: clock.OrReal(clk)}, nil
}

// List returns every key, oldest first.
func (s *Store) List() ([]Info, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	idx, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	out := make([]Info, 0, len(idx.Keys))
	for _, e := range idx.Keys {
		priv, err := s.readKey(e.ID)
		if err != nil {
			return nil, err
		}
		out = append(out, Info{
			ID: e.ID, Created: e.Created, Active: e.ID == idx.Active,
			PublicKey: token.EncodePublicKey(priv.Public().(ed25519.PublicKey)),
		})
	}
	return out, nil
}

// Rotate creates a new key and makes it the active one. The key file is
// durable before the index names it, so a crash leaves at worst an unused
// key file, never an index that names a missing key.
func (s *Store) Rotate() (Info, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	idx, err := s.readIndex()
	if err != nil && !errors.Is(err, ErrNoKeys) {
		return Info{}, err
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return Info{}, fmt.Errorf("keys: generate: %w", err)
	}
	if err := token.CheckPublicKey(pub); err != nil {
		return Info{}, err
	}
	id := token.KeyID(pub)
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return Info{}, fmt.Errorf("keys: encode: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(s.dir, id+".pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})); err != nil {
		return Info{}, err
	}
	created := s.clock.Now().UTC().Truncate(time.Second)
	idx.Keys = append(idx.Keys, indexEntry{ID: id, Created: created})
	idx.Active = id
	b, _ := json.MarshalIndent(idx, "", "  ")
	if err := writeFileAtomic(filepath.Join(s.dir, indexName), append(b, '\n')); err != nil {
		return Info{}, err
	}
	return Info{ID: id, Created: created, Active: true, PublicKey: token.EncodePublicKey(pub)}, nil
}

// Active returns a signer for the active key.
func (s *Store) Active() (*token.Signer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	idx, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	priv, err := s.readKey(idx.Active)
	if err != nil {
		return nil, err
	}
	return token.NewSigner(priv)
}

// Trust returns the public keys of every key in the store: the trust bundle
// that agents pin.
func (s *Store) Trust() (*token.Trust, error) {
	infos, err := s.List()
	if err != nil {
		return nil, err
	}
	pubs := make([]ed25519.PublicKey, 0, len(infos))
	for _, in := range infos {
		pub, err := token.ParsePublicKey(in.PublicKey)
		if err != nil {
			return nil, err
		}
		pubs = append(pubs, pub)
	}
	return token.NewTrust(pubs...)
}

func (s *Store) readIndex() (index, error) {
	b, err := readSecure(filepath.Join(s.dir, indexName))
	if errors.Is(err, fs.ErrNotExist) {
		return index{}, ErrNoKeys
	}
	if err != nil {
		return index{}, err
	}
	var idx index
	if err := json.Unmarshal(b, &idx); err != nil {
		return index{}, fmt.Errorf("%w: %s: %v", ErrCorrupt, indexName, err)
	}
	if len(idx.Keys) == 0 {
		return index{}, ErrNoKeys
	}
	active := false
	for _, e := range idx.Keys {
		if len(e.ID) != token.KeyIDLen {
			return index{}, fmt.Errorf("%w: key id %q", ErrCorrupt, e.ID)
		}
		active = active || e.ID == idx.Active
	}
	if !active {
		return index{}, fmt.Errorf("%w: active key %q is not listed", ErrCorrupt, idx.Active)
	}
	return idx, nil
}

func (s *Store) readKey(id string) (ed25519.PrivateKey, error) {
	b, err := readSecure(filepath.Join(s.dir, id+".pem"))
	if err != nil {
		return nil, err
	}
	block, rest := pem.Decode(b)
	if block == nil || block.Type != "PRIVATE KEY" || len(rest) != 0 {
		return nil, fmt.Errorf("%w: %s.pem is not one PEM private key", ErrCorrupt, id)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %s.pem: %v", ErrCorrupt, id, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: %s.pem is not an Ed25519 key", ErrCorrupt, id)
	}
	if token.KeyID(priv.Public().(ed25519.PublicKey)) != id {
		return nil, fmt.Errorf("%w: %s.pem holds another key", ErrCorrupt, id)
	}
	return priv, nil
}

// readSecure reads a small file and refuses it if others can read it.
func readSecure(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %v", ErrInsecureFile, path, st.Mode().Perm())
	}
	if st.Size() > maxKeyFileBytes {
		return nil, fmt.Errorf("%w: %s is %d bytes", ErrCorrupt, path, st.Size())
	}
	b := make([]byte, st.Size())
	if _, err := f.ReadAt(b, 0); err != nil && st.Size() > 0 {
		return nil, err
	}
	return b, nil
}

// writeFileAtomic writes data to path with mode 0600 through a synced
// temporary file, a rename and a synced directory.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("keys: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("keys: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("keys: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	defer d.Close()
	return d.Sync()
}
