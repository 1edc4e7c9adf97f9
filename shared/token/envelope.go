package token

import (
	"crypto/ed25519"
	"encoding/binary"
	"fmt"
	"strings"
)

// FormatVersion is the text format version this build writes and reads.
const FormatVersion = "tg1"

// sigTextLen is the length of a 64-byte signature in unpadded base64url.
const sigTextLen = 86

// SignPayload signs exact payload bytes as a document of kind k and returns
// its text form. Callers normally use a typed Issue function; this is the
// primitive those share.
func (s *Signer) SignPayload(k Kind, payload []byte) (string, error) {
	if !k.valid() {
		return "", fmt.Errorf("%w: kind %d", ErrWrongKind, k)
	}
	sig, err := s.priv.Sign(nil, payload, &ed25519.Options{Context: kinds[k].context})
	if err != nil {
		return "", fmt.Errorf("token: sign: %w", err)
	}
	var b strings.Builder
	b.Grow(len(FormatVersion) + 3 + KeyIDLen + b64.EncodedLen(len(payload)) + sigTextLen + 4)
	b.WriteString(FormatVersion)
	b.WriteByte('.')
	b.WriteString(kinds[k].code)
	b.WriteByte('.')
	b.WriteString(s.id)
	b.WriteByte('.')
	b.WriteString(b64.EncodeToString(payload))
	b.WriteByte('.')
	b.WriteString(b64.EncodeToString(sig))
	if b.Len() > k.MaxBytes() {
		return "", fmt.Errorf("%w: %s document would be %d bytes, at most %d", ErrTooLarge, k, b.Len(), k.MaxBytes())
	}
	return b.String(), nil
}

// Envelope is the parsed, not yet verified, text form of a document.
type Envelope struct {
	Kind    Kind
	KeyID   string
	Payload []byte
	Sig     [ed25519.SignatureSize]byte
}

// Parse splits and decodes the text form of a document of kind want, checking
// everything that can be checked without a key. It does not verify the
// signature: use Open for that. Tools that show an unverified document
// (inspect) call Parse.
func Parse(want Kind, text string) (*Envelope, error) {
	var env Envelope
	if err := parseInto(&env, want, text); err != nil {
		return nil, err
	}
	return &env, nil
}

func parseInto(env *Envelope, want Kind, text string) error {
	if !want.valid() {
		return fmt.Errorf("%w: kind %d", ErrWrongKind, want)
	}
	if len(text) > want.MaxBytes() {
		return fmt.Errorf("%w: %d bytes, at most %d for a %s document", ErrTooLarge, len(text), want.MaxBytes(), want)
	}
	version, rest, _ := strings.Cut(text, ".")
	if version != FormatVersion {
		if len(version) > 2 && version[:2] == "tg" && allDigits(version[2:]) {
			return fmt.Errorf("%w: %q (this build reads %s)", ErrUnsupportedVersion, version, FormatVersion)
		}
		return fmt.Errorf("%w: does not start with %q", ErrMalformed, FormatVersion+".")
	}
	code, rest, ok := strings.Cut(rest, ".")
	if !ok {
		return fmt.Errorf("%w: truncated after the version", ErrMalformed)
	}
	got, known := kindByCode(code)
	if !known {
		return fmt.Errorf("%w: unknown document kind %q", ErrMalformed, code)
	}
	if got != want {
		return fmt.Errorf("%w: got a %s document, want %s", ErrWrongKind, got, want)
	}
	env.Kind = got
	kid, rest, ok := strings.Cut(rest, ".")
	if !ok {
		return fmt.Errorf("%w: truncated after the kind", ErrMalformed)
	}
	if len(kid) != KeyIDLen || !lowerHex(kid) {
		return fmt.Errorf("%w: key id must be %d lowercase hex digits", ErrMalformed, KeyIDLen)
	}
	env.KeyID = kid
	payload, sig, ok := strings.Cut(rest, ".")
	if !ok {
		return fmt.Errorf("%w: truncated: no signature", ErrMalformed)
	}
	if len(sig) != sigTextLen {
		return fmt.Errorf("%w: signature must be %d characters, got %d", ErrMalformed, sigTextLen, len(sig))
	}
	if i := badB64Byte(sig); i >= 0 {
		return fmt.Errorf("%w: signature has %q at position %d, not base64url", ErrMalformed, sig[i], i)
	}
	if n, err := b64.Decode(env.Sig[:], []byte(sig)); err != nil || n != ed25519.SignatureSize {
		return fmt.Errorf("%w: signature is not canonical base64url", ErrMalformed)
	}
	if !canonicalScalar(env.Sig[32:]) {
		return fmt.Errorf("%w: signature scalar S is not below the group order", ErrBadSignature)
	}
	if payload == "" {
		return fmt.Errorf("%w: empty payload", ErrMalformed)
	}
	if i := badB64Byte(payload); i >= 0 {
		return fmt.Errorf("%w: payload has %q at position %d, not base64url", ErrMalformed, payload[i], i)
	}
	env.Payload = make([]byte, b64.DecodedLen(len(payload)))
	n, err := b64.Decode(env.Payload, []byte(payload))
	if err != nil {
		return fmt.Errorf("%w: payload is not canonical base64url: %v", ErrMalformed, err)
	}
	env.Payload = env.Payload[:n]
	return nil
}

// Open parses the text form of a document of kind want and verifies its
// signature against trust. It returns the verified payload bytes.
func Open(trust *Trust, want Kind, text string) (*Envelope, error) {
	var env Envelope
	if err := parseInto(&env, want, text); err != nil {
		return nil, err
	}
	if err := env.verify(trust); err != nil {
		return nil, err
	}
	return &env, nil
}

func (env *Envelope) verify(trust *Trust) error {
	if trust == nil {
		return fmt.Errorf("%w: no trust configured", ErrUnknownKey)
	}
	pub, ok := trust.keys[env.KeyID]
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownKey, env.KeyID)
	}
	opts := ed25519.Options{Context: kinds[env.Kind].context}
	if err := ed25519.VerifyWithOptions(pub, env.Payload, env.Sig[:], &opts); err != nil {
		return fmt.Errorf("%w: %s document signed by %s", ErrBadSignature, env.Kind, env.KeyID)
	}
	return nil
}

// groupOrder is L = 2^252 + 27742317777372353535851937790883648493 as four
// little-endian 64-bit words.
var groupOrder = [4]uint64{0x5812631a5cf5d3ed, 0x14def9dea2f79cd6, 0, 0x1000000000000000}

// canonicalScalar reports whether the 32-byte little-endian s is below L.
// crypto/ed25519 refuses S >= L too; checking first names the problem.
func canonicalScalar(s []byte) bool {
	for i := 3; i >= 0; i-- {
		w := binary.LittleEndian.Uint64(s[i*8:])
		if w != groupOrder[i] {
			return w < groupOrder[i]
		}
	}
	return false // equal to L
}

// badB64Byte returns the index of the first byte outside the base64url
// alphabet, or -1. encoding/base64 silently skips CR and LF, which a strict
// parser must not.
func badB64Byte(s string) int {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return i
		}
	}
	return -1
}

func lowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
