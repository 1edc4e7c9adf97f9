package token

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/tollgate-iot/tollgate/shared/limits"
)

// Trust is a set of public keys that documents may be signed with. The agent
// pins the server's trust bundle; the server checks device-signed documents
// against a Trust holding the one device key.
type Trust struct {
	keys map[string]ed25519.PublicKey
}

// NewTrust returns a Trust of the given keys, refusing weak keys and
// duplicates.
func NewTrust(keys ...ed25519.PublicKey) (*Trust, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: trust needs at least one key", ErrMalformed)
	}
	if len(keys) > limits.MaxTrustKeys {
		return nil, fmt.Errorf("%w: %d keys, at most %d", ErrTooLarge, len(keys), limits.MaxTrustKeys)
	}
	t := &Trust{keys: make(map[string]ed25519.PublicKey, len(keys))}
	for _, k := range keys {
		if err := CheckPublicKey(k); err != nil {
			return nil, err
		}
		id := KeyID(k)
		if _, dup := t.keys[id]; dup {
			return nil, fmt.Errorf("%w: key %s listed twice", ErrMalformed, id)
		}
		t.keys[id] = append(ed25519.PublicKey(nil), k...)
	}
	return t, nil
}

// Key returns the public key with the given id.
func (t *Trust) Key(id string) (ed25519.PublicKey, bool) {
	k, ok := t.keys[id]
	return k, ok
}

// IDs returns the key ids, sorted.
func (t *Trust) IDs() []string {
	ids := make([]string, 0, len(t.keys))
	for id := range t.keys {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// TrustBundleVersion is the format version of a trust bundle file.
const TrustBundleVersion = 1

// trustBundle is the JSON form of a trust bundle file.
type trustBundle struct {
	Version int              `json:"version"`
	Keys    []trustBundleKey `json:"keys"`
}

type trustBundleKey struct {
	ID        string `json:"id"`
	PublicKey string `json:"public_key"`
}

// MarshalTrustBundle returns the trust bundle file for t: JSON with the key
// ids in sorted order, so that the same keys always give the same bytes.
func MarshalTrustBundle(t *Trust) []byte {
	b := trustBundle{Version: TrustBundleVersion}
	for _, id := range t.IDs() {
		b.Keys = append(b.Keys, trustBundleKey{ID: id, PublicKey: EncodePublicKey(t.keys[id])})
	}
	out, _ := json.MarshalIndent(b, "", "  ") // cannot fail: strings and ints only
	return append(out, '\n')
}

// ParseTrustBundle parses a trust bundle file strictly: size cap, no unknown
// fields, a known version, every key strong and named by its own key id.
func ParseTrustBundle(data []byte) (*Trust, error) {
	if len(data) > limits.MaxTrustBundleBytes {
		return nil, fmt.Errorf("%w: trust bundle is %d bytes, at most %d", ErrTooLarge, len(data), limits.MaxTrustBundleBytes)
	}
	var b trustBundle
	if err := strictDecode(data, &b); err != nil {
		return nil, fmt.Errorf("trust bundle: %w", err)
	}
	if b.Version != TrustBundleVersion {
		return nil, fmt.Errorf("%w: trust bundle version %d", ErrUnsupportedVersion, b.Version)
	}
	if len(b.Keys) > limits.MaxTrustKeys {
		return nil, fmt.Errorf("%w: trust bundle has %d keys, at most %d", ErrTooLarge, len(b.Keys), limits.MaxTrustKeys)
	}
	keys := make([]ed25519.PublicKey, 0, len(b.Keys))
	for i, k := range b.Keys {
		pub, err := ParsePublicKey(k.PublicKey)
		if err != nil {
			return nil, fmt.Errorf("trust bundle key %d: %w", i, err)
		}
		if KeyID(pub) != k.ID {
			return nil, fmt.Errorf("%w: trust bundle key %d: id %q does not match its key (%s)", ErrMalformed, i, k.ID, KeyID(pub))
		}
		keys = append(keys, pub)
	}
	return NewTrust(keys...)
}
