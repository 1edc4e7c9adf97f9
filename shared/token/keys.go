package token

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"

	"filippo.io/edwards25519"
)

// KeyIDLen is the length of a key id in characters.
const KeyIDLen = 16

// publicKeyTextLen is the length of an Ed25519 public key in unpadded base64url.
const publicKeyTextLen = 43

// b64 is the only base64 flavour Tollgate writes or reads: unpadded
// base64url, refusing non-zero trailing bits.
var b64 = base64.RawURLEncoding.Strict()

// Fingerprint returns the hex SHA-256 of a raw Ed25519 public key. Tokens name
// the device key by its fingerprint.
func Fingerprint(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:])
}

// FingerprintBytes returns the hex SHA-256 of b.
func FingerprintBytes(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// KeyID returns the id that names a signing key in a document's text form:
// the first 16 hex digits of its fingerprint.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:KeyIDLen/2])
}

// EncodePublicKey returns the text form of a public key, as
// `tollgatectl device create --public-key` takes it.
func EncodePublicKey(pub ed25519.PublicKey) string { return b64.EncodeToString(pub) }

// ParsePublicKey parses the text form of a public key and refuses weak keys.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	if len(s) != publicKeyTextLen {
		return nil, fmt.Errorf("%w: public key must be %d base64url characters, got %d", ErrMalformed, publicKeyTextLen, len(s))
	}
	if i := badB64Byte(s); i >= 0 {
		return nil, fmt.Errorf("%w: public key has %q at position %d, not base64url", ErrMalformed, s[i], i)
	}
	raw, err := b64.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: public key: %v", ErrMalformed, err)
	}
	if err := CheckPublicKey(raw); err != nil {
		return nil, err
	}
	return ed25519.PublicKey(raw), nil
}

// CheckPublicKey refuses keys that would make signatures meaningless: the
// wrong length, all zeros, bytes that are not the canonical encoding of a
// curve point, and points of small order (for which forged signatures verify
// for many messages).
func CheckPublicKey(pub []byte) error {
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: %d bytes, want %d", ErrWeakKey, len(pub), ed25519.PublicKeySize)
	}
	zero := true
	for _, b := range pub {
		if b != 0 {
			zero = false
			break
		}
	}
	if zero {
		return fmt.Errorf("%w: all-zero key", ErrWeakKey)
	}
	p, err := new(edwards25519.Point).SetBytes(pub)
	if err != nil {
		return fmt.Errorf("%w: not a curve point", ErrWeakKey)
	}
	if string(p.Bytes()) != string(pub) {
		return fmt.Errorf("%w: non-canonical point encoding", ErrWeakKey)
	}
	if new(edwards25519.Point).MultByCofactor(p).Equal(edwards25519.NewIdentityPoint()) == 1 {
		return fmt.Errorf("%w: point of small order", ErrWeakKey)
	}
	return nil
}

// Signer signs documents with one Ed25519 private key.
type Signer struct {
	id   string
	priv ed25519.PrivateKey
}

// NewSigner returns a signer for priv. It refuses a key whose public half is
// weak, so that nothing is ever signed that no verifier would accept.
func NewSigner(priv ed25519.PrivateKey) (*Signer, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w: private key is %d bytes, want %d", ErrMalformed, len(priv), ed25519.PrivateKeySize)
	}
	pub := priv.Public().(ed25519.PublicKey)
	if err := CheckPublicKey(pub); err != nil {
		return nil, err
	}
	return &Signer{id: KeyID(pub), priv: priv}, nil
}

// KeyID returns the id of the signer's key.
func (s *Signer) KeyID() string { return s.id }

// PublicKey returns the signer's public key.
func (s *Signer) PublicKey() ed25519.PublicKey { return s.priv.Public().(ed25519.PublicKey) }

// String never prints key material.
func (s *Signer) String() string { return "token.Signer(" + s.id + ")" }
