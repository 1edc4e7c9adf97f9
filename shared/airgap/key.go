package airgap

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/tollgate-iot/tollgate/shared/ident"
	"github.com/tollgate-iot/tollgate/shared/limits"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// KeyLifetime is how long after it was issued an activation key may be
// applied. A key is a snapshot (tokens, the revocation list of its day): a
// file found in a drawer months later must not be taken as current. The
// site asks for a fresh key (tollgatectl activation key) instead.
const KeyLifetime = 30 * 24 * time.Hour

// Errors an agent reports for an activation key it refuses.
var (
	// ErrKeyExpired reports an activation key applied after ExpiresAt
	// (by the agent's effective clock).
	ErrKeyExpired = errors.New("activation key expired")
	// ErrStaleKey reports an activation key whose Seq is not above the
	// last one the agent applied: applied already, or older.
	ErrStaleKey = errors.New("activation key is not newer than the last one applied")
	// ErrTrustMismatch reports an activation key made for another trust
	// bundle than the one the agent pins.
	ErrTrustMismatch = errors.New("activation key names another trust bundle")
)

// ActivationKey is what an admin hands an air-gapped device (docs/design.md#air-gapped-sites step
// 2): its license tokens and a current revocation list, signed by the
// server. Renewals, top-ups and revocations travel as newer activation
// keys; Seq grows with every key made for the device, and an agent applies
// each key once and refuses one older than it has applied.
type ActivationKey struct {
	DeviceID string `json:"device_id"`
	// DeviceKey is the Fingerprint of the device's public key.
	DeviceKey string `json:"device_key"`
	// Seq orders the keys made for one device; it only grows.
	Seq int64 `json:"seq"`
	// TrustFingerprint names the trust bundle the server signed with, so
	// an agent pinned to another bundle says so rather than failing later.
	TrustFingerprint string `json:"trust_fingerprint"`
	// Tokens are the device's license token texts.
	Tokens []string `json:"tokens"`
	// RevocationList is the server's current signed list (text form).
	RevocationList string `json:"revocation_list"`
	// AckedSeq is the highest deduction seq the server holds for the device
	// with none missing below it (from imported usage receipts): the agent
	// may forget its records up to it, so its next receipts stay small.
	AckedSeq int64 `json:"acked_seq"`
	// IssuedAt is when the server made the key, Unix seconds. An agent
	// takes it as server-signed time (docs/design.md#time).
	IssuedAt int64 `json:"issued_at"`
	// ExpiresAt is when the key may no longer be applied, Unix seconds
	// (IssueActivationKey sets IssuedAt + KeyLifetime when it is 0).
	ExpiresAt int64 `json:"expires_at"`
}

// Validate checks the fields that can be checked without keys.
func (k *ActivationKey) Validate() error {
	if err := ident.CheckID("device_id", k.DeviceID); err != nil {
		return fmt.Errorf("%w: %v", token.ErrMalformed, err)
	}
	if len(k.DeviceKey) != 64 || len(k.TrustFingerprint) != 64 {
		return fmt.Errorf("%w: device_key and trust_fingerprint must be 64 hex digits", token.ErrMalformed)
	}
	if k.Seq < 1 || k.IssuedAt <= 0 || k.AckedSeq < 0 {
		return fmt.Errorf("%w: seq and issued_at must be positive, acked_seq not negative", token.ErrMalformed)
	}
	if k.ExpiresAt <= k.IssuedAt {
		return fmt.Errorf("%w: expires_at must be after issued_at", token.ErrMalformed)
	}
	if k.Tokens == nil || len(k.Tokens) > limits.MaxActivationKeyTokens {
		return fmt.Errorf("%w: tokens must list at most %d tokens", token.ErrMalformed, limits.MaxActivationKeyTokens)
	}
	if k.RevocationList == "" {
		return fmt.Errorf("%w: revocation_list is required", token.ErrMalformed)
	}
	return nil
}

// TrustFingerprint returns the fingerprint of a trust bundle: SHA-256 over
// its sorted key ids, so the same keys always give the same value.
func TrustFingerprint(t *token.Trust) string {
	ids := t.IDs()
	slices.Sort(ids)
	return token.FingerprintBytes([]byte(fmt.Sprint(ids)))
}

// IssueActivationKey signs k with the server's key and returns the armored
// file. A zero ExpiresAt is set to IssuedAt + KeyLifetime (in k).
func IssueActivationKey(s *token.Signer, k *ActivationKey) ([]byte, error) {
	if k.ExpiresAt == 0 && k.IssuedAt > 0 {
		k.ExpiresAt = k.IssuedAt + int64(KeyLifetime/time.Second)
	}
	if err := k.Validate(); err != nil {
		return nil, err
	}
	p, err := token.EncodePayload(k)
	if err != nil {
		return nil, err
	}
	text, err := s.SignPayload(token.KindActivationKey, p)
	if err != nil {
		return nil, err
	}
	return Armor(token.KindActivationKey, text)
}

// OpenActivationKey reads an armored activation key and verifies it against
// the server trust. It checks the frame, signature and fields; the agent
// then verifies each token and the revocation list, checks that the key is
// for itself, and that Seq is above the last key it applied.
func OpenActivationKey(trust *token.Trust, data []byte) (*ActivationKey, error) {
	kind, text, err := Dearmor(data)
	if err != nil {
		return nil, err
	}
	if kind != token.KindActivationKey {
		return nil, fmt.Errorf("%w: file holds a %s document, want an activation key", token.ErrWrongKind, kind)
	}
	env, err := token.Open(trust, token.KindActivationKey, text)
	if err != nil {
		return nil, err
	}
	var k ActivationKey
	if err := token.DecodePayload(env.Payload, &k); err != nil {
		return nil, err
	}
	if err := k.Validate(); err != nil {
		return nil, err
	}
	return &k, nil
}

// CheckKeyTime refuses a key that expired by now (Unix seconds). A key
// issued after now is fine: the agent's clock may lag (a gateway that
// booted at 1970); the key's IssuedAt then moves its effective time on.
func (k *ActivationKey) CheckKeyTime(now int64) error {
	if now >= k.ExpiresAt {
		return fmt.Errorf("%w: key %d expired at %s, now %s (ask for a fresh key: tollgatectl activation key)", ErrKeyExpired,
			k.Seq, time.Unix(k.ExpiresAt, 0).UTC().Format(time.RFC3339), time.Unix(now, 0).UTC().Format(time.RFC3339))
	}
	return nil
}
