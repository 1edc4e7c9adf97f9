// Package identity keeps the device's Ed25519 key: created once by
// `tollgate-agent init`, stored as PKCS#8 PEM with mode 0600, never logged.
package identity

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"github.com/tollgate-iot/tollgate/agent/internal/limits"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// ErrExists reports a key file that is already there.
var ErrExists = errors.New("device key already exists")

// ErrInsecure reports a key file readable or writable by group or others.
var ErrInsecure = errors.New("device key file is accessible to group or others")

// ErrMalformed reports a key file that does not hold one Ed25519 key.
var ErrMalformed = errors.New("device key file is malformed")

const pemType = "PRIVATE KEY"

// Create writes a new key to path (which must not exist) and returns it.
func Create(path string) (ed25519.PrivateKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	if err := token.CheckPublicKey(pub); err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("%w: %s", ErrExists, path)
	}
	if err != nil {
		return nil, err
	}
	werr := pem.Encode(f, &pem.Block{Type: pemType, Bytes: der})
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(path)
		return nil, err
	}
	return priv, nil
}

// Load reads the key at path, refusing a file others can read.
func Load(path string) (ed25519.PrivateKey, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %v", ErrInsecure, path, st.Mode().Perm())
	}
	if st.Size() > limits.MaxDeviceKeyFileBytes {
		return nil, fmt.Errorf("%w: %d bytes", ErrMalformed, st.Size())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, rest := pem.Decode(b)
	if blk == nil || blk.Type != pemType || len(rest) != 0 {
		return nil, fmt.Errorf("%w: want one %q PEM block", ErrMalformed, pemType)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: not an Ed25519 key", ErrMalformed)
	}
	return priv, nil
}
