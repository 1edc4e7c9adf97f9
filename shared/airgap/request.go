package airgap

import (
	"crypto/ed25519"
	"errors"
	"fmt"

	"github.com/tollgate-iot/tollgate/shared/ident"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// ErrNotSelfSigned reports an activation request that is not signed by the
// key it carries: it proves nothing about the device.
var ErrNotSelfSigned = errors.New("activation request is not signed by its own device key")

// ActivationRequest is what a device on an air-gapped site asks to be
// licensed with (docs/design.md#air-gapped-sites step 1). It is signed by the device key it names,
// which proves the requester holds that key.
type ActivationRequest struct {
	DeviceID  string `json:"device_id"`
	Model     string `json:"model"`
	PublicKey string `json:"public_key"`
	CreatedAt int64  `json:"created_at"`
}

// Validate checks the request's fields.
func (r *ActivationRequest) Validate() error {
	if err := ident.CheckID("device_id", r.DeviceID); err != nil {
		return fmt.Errorf("%w: %v", token.ErrMalformed, err)
	}
	if err := ident.CheckModel(r.Model); err != nil {
		return fmt.Errorf("%w: %v", token.ErrMalformed, err)
	}
	if _, err := token.ParsePublicKey(r.PublicKey); err != nil {
		return err
	}
	if r.CreatedAt <= 0 {
		return fmt.Errorf("%w: created_at must be positive", token.ErrMalformed)
	}
	return nil
}

// SignActivationRequest signs r with the device's private key, which must
// be the key r names, and returns the armored file.
func SignActivationRequest(device ed25519.PrivateKey, r *ActivationRequest) ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	s, err := token.NewSigner(device)
	if err != nil {
		return nil, err
	}
	if token.EncodePublicKey(s.PublicKey()) != r.PublicKey {
		return nil, fmt.Errorf("%w: signing key is not the request's public key", ErrNotSelfSigned)
	}
	p, err := token.EncodePayload(r)
	if err != nil {
		return nil, err
	}
	text, err := s.SignPayload(token.KindActivationRequest, p)
	if err != nil {
		return nil, err
	}
	return Armor(token.KindActivationRequest, text)
}

// ParseActivationRequest reads an armored activation request and verifies
// that the device key it names signed it.
func ParseActivationRequest(data []byte) (*ActivationRequest, error) {
	kind, text, err := Dearmor(data)
	if err != nil {
		return nil, err
	}
	if kind != token.KindActivationRequest {
		return nil, fmt.Errorf("%w: file holds a %s document, want an activation request", token.ErrWrongKind, kind)
	}
	var r ActivationRequest
	if err := OpenSelfSigned(text, &r, r.PublicKeyText); err != nil {
		return nil, err
	}
	return &r, nil
}

// PublicKeyText returns the device key the request carries.
func (r *ActivationRequest) PublicKeyText() string { return r.PublicKey }

// OpenSelfSigned decodes the activation-request document text into v,
// validates it, and verifies that the device key it carries (key, read
// after decoding) signed it: a request is self-signed, since nothing about
// the device is known yet. The online redemption request (shared/redeem)
// is the same kind with more fields and opens the same way.
func OpenSelfSigned(text string, v interface{ Validate() error }, key func() string) error {
	env, err := token.Parse(token.KindActivationRequest, text)
	if err != nil {
		return err
	}
	if err := token.DecodePayload(env.Payload, v); err != nil {
		return err
	}
	if err := v.Validate(); err != nil {
		return err
	}
	pub, err := token.ParsePublicKey(key())
	if err != nil {
		return err
	}
	if env.KeyID != token.KeyID(pub) {
		return fmt.Errorf("%w: signed by key %s, carries key %s", ErrNotSelfSigned, env.KeyID, token.KeyID(pub))
	}
	trust, err := token.NewTrust(pub)
	if err != nil {
		return err
	}
	_, err = token.Open(trust, token.KindActivationRequest, text)
	return err
}
