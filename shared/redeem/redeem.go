// Package redeem is the contract of online activation (docs/api.md "Online
// activation"): a device redeems a license serial or a customer's
// enrollment code over the network with a request signed by its own key.
//
// The request is the air-gap activation request (device id, model, public
// key, created_at) extended by the code and a nonce, signed under the same
// document kind (token.KindActivationRequest). The two payloads are
// disjoint — canonical decoding refuses a missing or unknown field — so an
// offline request file is never an online redemption and the reverse. The
// code is inside the signature: nobody on the path can swap it, and the
// nonce and created_at let the server refuse a captured request replayed.
//
// The server answers with the same signed syncproto.Response a sync gets,
// echoing the nonce, so the agent verifies and applies it with its sync code.
package redeem

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"

	"github.com/tollgate-iot/tollgate/shared/airgap"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// Path is the server's online activation endpoint.
const Path = "/v1/activations/online"

// Bounds of a redemption request.
const (
	// MaxCodeLen caps a code: a serial is 12 bytes, an enrollment code 47.
	MaxCodeLen = 64
	// NonceLen is the length of a nonce: 16 random bytes in unpadded
	// base64url, as in a sync request (the answer echoes it).
	NonceLen = 22
	// MaxRequestBytes caps the text of a signed request: a real one is
	// about 500 bytes.
	MaxRequestBytes = 4 << 10
	// EnrollmentPrefix starts every enrollment code, so the server tells it
	// from a serial without a lookup and secret scanners recognize it.
	EnrollmentPrefix = "tge_"
)

// ErrInvalid reports a request that breaks the contract; the error names
// the field.
var ErrInvalid = errors.New("invalid activation request")

// Request is what a device sends to redeem a code online.
type Request struct {
	DeviceID  string `json:"device_id"`
	Model     string `json:"model"`
	PublicKey string `json:"public_key"`
	// CreatedAt is the device's effective time, Unix seconds; the server
	// refuses a request too far from its own time.
	CreatedAt int64 `json:"created_at"`
	// Nonce is unique per request (16 random bytes, base64url).
	Nonce string `json:"nonce"`
	// Code is a license serial or an enrollment code.
	Code string `json:"code"`
}

// Activation returns the device part: the air-gap activation request.
func (r *Request) Activation() *airgap.ActivationRequest {
	return &airgap.ActivationRequest{DeviceID: r.DeviceID, Model: r.Model, PublicKey: r.PublicKey, CreatedAt: r.CreatedAt}
}

// IsEnrollment reports whether the code is an enrollment code (not a serial).
func (r *Request) IsEnrollment() bool { return IsEnrollmentCode(r.Code) }

// IsEnrollmentCode reports whether code has the enrollment code prefix.
func IsEnrollmentCode(code string) bool { return strings.HasPrefix(code, EnrollmentPrefix) }

// Validate checks the request's fields.
func (r *Request) Validate() error {
	if err := r.Activation().Validate(); err != nil {
		return err
	}
	if err := CheckCode(r.Code); err != nil {
		return err
	}
	return checkNonce(r.Nonce)
}

// NormalizeCode is what a person typed, as the server looks it up: spaces
// around it dropped, a serial upper-cased (serials are Crockford base32;
// enrollment codes are case-sensitive base64url and kept as they are).
func NormalizeCode(s string) string {
	s = strings.TrimSpace(s)
	if IsEnrollmentCode(s) {
		return s
	}
	return strings.ToUpper(s)
}

// CheckCode checks a code's form: 1..MaxCodeLen bytes of A-Z a-z 0-9 - _.
func CheckCode(c string) error {
	if c == "" || len(c) > MaxCodeLen {
		return fmt.Errorf("%w: code must be 1..%d bytes", ErrInvalid, MaxCodeLen)
	}
	for i := 0; i < len(c); i++ {
		if !urlSafe(c[i]) {
			return fmt.Errorf("%w: code has %q at byte %d (want A-Z a-z 0-9 - _)", ErrInvalid, c[i], i)
		}
	}
	return nil
}

func checkNonce(n string) error {
	if len(n) != NonceLen {
		return fmt.Errorf("%w: nonce must be %d base64url characters", ErrInvalid, NonceLen)
	}
	for i := 0; i < len(n); i++ {
		if !urlSafe(n[i]) {
			return fmt.Errorf("%w: nonce has %q", ErrInvalid, n[i])
		}
	}
	return nil
}

func urlSafe(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// Sign signs r with the device's private key, which must be the key r
// names, and returns the request's text.
func Sign(device ed25519.PrivateKey, r *Request) (string, error) {
	if err := r.Validate(); err != nil {
		return "", err
	}
	s, err := token.NewSigner(device)
	if err != nil {
		return "", err
	}
	if token.EncodePublicKey(s.PublicKey()) != r.PublicKey {
		return "", fmt.Errorf("%w: signing key is not the request's public key", airgap.ErrNotSelfSigned)
	}
	p, err := token.EncodePayload(r)
	if err != nil {
		return "", err
	}
	return s.SignPayload(token.KindActivationRequest, p)
}

// Parse reads a signed request and verifies that the device key it names
// signed it. Nothing else about the device is known yet: the server checks
// the key against a registered device itself.
func Parse(text string) (*Request, error) {
	if len(text) > MaxRequestBytes {
		return nil, fmt.Errorf("%w: request is %d bytes, at most %d", token.ErrTooLarge, len(text), MaxRequestBytes)
	}
	var r Request
	if err := airgap.OpenSelfSigned(text, &r, func() string { return r.PublicKey }); err != nil {
		return nil, err
	}
	return &r, nil
}
