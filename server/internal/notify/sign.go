package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"
)

// The Standard Webhooks headers every delivery carries.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// ErrBadSecret reports an endpoint secret not in the whsec_ form.
var ErrBadSecret = errors.New("webhook secret is not whsec_ followed by base64")

// Sign returns the webhook-signature header value of one attempt:
// "v1," and the base64 HMAC-SHA256, keyed with the secret's decoded bytes,
// of id "." unix-seconds "." body — the Standard Webhooks scheme, so
// receivers can use its verifiers.
func Sign(secret, id string, at time.Time, body []byte) (string, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil || !strings.HasPrefix(secret, "whsec_") || len(key) == 0 {
		return "", ErrBadSecret
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + strconv.FormatInt(at.Unix(), 10) + "."))
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil)), nil
}
