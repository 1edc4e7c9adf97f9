package airgap

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate-iot/tollgate/shared/limits"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// Signature states a Description reports.
const (
	SigValid      = "valid"
	SigInvalid    = "invalid"
	SigNotChecked = "not_checked"
)

// Keys are what Describe may verify signatures with; either may be nil.
type Keys struct {
	// Server verifies server-signed documents (tokens, revocation lists,
	// activation keys, sync answers).
	Server *token.Trust
	// Device verifies device-signed documents other than an activation
	// request, which carries its own key (usage receipts, sync requests).
	Device *token.Trust
}

// Description is what `inspect` prints of a signed document or an armored
// file: the decoded content and whether its signature verifies.
type Description struct {
	// Kind names the document: license, revocation_list,
	// activation_request, activation_key, usage_receipt, sync_request,
	// sync_response or trust_bundle.
	Kind string `json:"kind"`
	// Armored tells a file (BEGIN/END frame) from a bare tg1 text.
	Armored bool `json:"armored"`
	// SignedBy is "server" or "device".
	SignedBy string `json:"signed_by"`
	KeyID    string `json:"key_id"`
	// Signature is SigValid, SigInvalid or SigNotChecked.
	Signature string `json:"signature"`
	// SignatureNote says why a signature is invalid or was not checked.
	SignatureNote string `json:"signature_note,omitempty"`
	// Bytes is the size of the signed text.
	Bytes int `json:"bytes"`
	// Content is the decoded payload (the document's own JSON fields).
	Content any `json:"content"`
	// Documents are the documents an activation key carries.
	Documents []Description `json:"documents,omitempty"`
}

var kindNames = map[token.Kind]string{
	token.KindLicense: "license", token.KindRevocation: "revocation_list",
	token.KindActivationRequest: "activation_request", token.KindActivationKey: "activation_key",
	token.KindUsageReceipt: "usage_receipt", token.KindSyncRequest: "sync_request",
	token.KindSyncResponse: "sync_response", token.KindTrustBundle: "trust_bundle",
}

// deviceSigned are the kinds a device key signs.
var deviceSigned = map[token.Kind]bool{token.KindActivationRequest: true, token.KindUsageReceipt: true, token.KindSyncRequest: true}

// Describe decodes an armored file or a bare tg1 document (surrounding
// whitespace allowed) and checks its signature with keys. A document that
// does not decode is an error; one whose signature fails is described with
// Signature SigInvalid, so a person can see what a tampered file claims.
func Describe(data []byte, keys Keys) (*Description, error) {
	if len(data) > limits.MaxAirgapFileBytes {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrFileTooLarge, len(data), limits.MaxAirgapFileBytes)
	}
	if bytes.HasPrefix(data, []byte("-----BEGIN ")) {
		kind, text, err := Dearmor(data)
		if err != nil {
			return nil, err
		}
		d, err := describeText(kind, text, keys)
		if err != nil {
			return nil, err
		}
		d.Armored = true
		return d, nil
	}
	text := strings.TrimSpace(string(data))
	kind, err := KindOf(text)
	if err != nil {
		return nil, err
	}
	return describeText(kind, text, keys)
}

// KindOf returns the kind a tg1 document's text names, before parsing it.
func KindOf(text string) (token.Kind, error) {
	rest, ok := strings.CutPrefix(text, "tg1.")
	if !ok {
		return 0, fmt.Errorf("%w: neither an armored file nor a tg1 document", token.ErrMalformed)
	}
	code, _, _ := strings.Cut(rest, ".")
	for k := range kindNames {
		if k.String() == code {
			return k, nil
		}
	}
	return 0, fmt.Errorf("%w: unknown document kind %q", token.ErrMalformed, code)
}

func describeText(kind token.Kind, text string, keys Keys) (*Description, error) {
	env, err := token.Parse(kind, text)
	if err != nil {
		return nil, err
	}
	d := &Description{Kind: kindNames[kind], SignedBy: "server", KeyID: env.KeyID, Bytes: len(text)}
	if deviceSigned[kind] {
		d.SignedBy = "device"
	}
	content, err := decodeContent(kind, env.Payload)
	if err != nil {
		return nil, err
	}
	d.Content = content
	trust := keys.Server
	switch {
	case kind == token.KindActivationRequest:
		trust, err = requestTrust(content.(*ActivationRequest), env.KeyID)
	case deviceSigned[kind]:
		trust = keys.Device
	}
	d.check(kind, text, trust, err)
	if k, ok := content.(*ActivationKey); ok {
		if err := d.describeInner(k, keys); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// requestTrust is the request's own key: it must be the signing key.
func requestTrust(r *ActivationRequest, keyID string) (*token.Trust, error) {
	pub, _ := token.ParsePublicKey(r.PublicKey) // checked by Validate
	if keyID != token.KeyID(pub) {
		return nil, fmt.Errorf("%w: signed by key %s, carries key %s", ErrNotSelfSigned, keyID, token.KeyID(pub))
	}
	return token.NewTrust(pub)
}

func (d *Description) check(kind token.Kind, text string, trust *token.Trust, pre error) {
	switch {
	case pre != nil:
		d.Signature, d.SignatureNote = SigInvalid, pre.Error()
	case trust == nil:
		d.Signature = SigNotChecked
		d.SignatureNote = "no " + d.SignedBy + " key given"
	default:
		if _, err := token.Open(trust, kind, text); err != nil {
			d.Signature, d.SignatureNote = SigInvalid, err.Error()
		} else {
			d.Signature = SigValid
		}
	}
}

func (d *Description) describeInner(k *ActivationKey, keys Keys) error {
	texts := append([]string{k.RevocationList}, k.Tokens...)
	for i, t := range texts {
		kind, err := KindOf(t)
		if err == nil && kind != token.KindRevocation && kind != token.KindLicense {
			err = fmt.Errorf("%w: an activation key carries %s", token.ErrWrongKind, kind)
		}
		var inner *Description
		if err == nil {
			inner, err = describeText(kind, t, Keys{Server: keys.Server})
		}
		if err != nil {
			return fmt.Errorf("activation key document %d: %w", i+1, err)
		}
		d.Documents = append(d.Documents, *inner)
	}
	return nil
}

// decodeContent decodes a payload strictly into its kind's type and
// validates it.
func decodeContent(kind token.Kind, p []byte) (any, error) {
	var v interface{ Validate() error }
	switch kind {
	case token.KindLicense:
		v = &token.License{}
	case token.KindRevocation:
		v = &token.RevocationList{}
	case token.KindActivationRequest:
		v = &ActivationRequest{}
	case token.KindActivationKey:
		v = &ActivationKey{}
	case token.KindUsageReceipt, token.KindSyncRequest:
		v = &syncproto.Report{}
	case token.KindSyncResponse:
		v = &syncproto.Response{}
	default: // a trust bundle: shown as the JSON it is
		if !json.Valid(p) {
			return nil, fmt.Errorf("%w: payload is not JSON", token.ErrMalformed)
		}
		return json.RawMessage(p), nil
	}
	if err := token.DecodePayload(p, v); err != nil {
		return nil, err
	}
	if err := v.Validate(); err != nil {
		return nil, err
	}
	return v, nil
}

// Summary returns the description as FIELD, VALUE rows for a table: the
// frame, the signature and the content's main fields (times in RFC 3339).
// Inner documents follow, their fields prefixed with their number.
func (d *Description) Summary() [][]string {
	rows := [][]string{{"kind", d.Kind}, {"armored", strconv.FormatBool(d.Armored)}, {"signed_by", d.SignedBy},
		{"key_id", d.KeyID}, {"signature", d.Signature}}
	if d.SignatureNote != "" {
		rows = append(rows, []string{"signature_note", d.SignatureNote})
	}
	rows = append(rows, []string{"bytes", strconv.Itoa(d.Bytes)})
	rows = append(rows, contentRows(d.Content)...)
	for i, in := range d.Documents {
		for _, r := range in.Summary() {
			rows = append(rows, []string{fmt.Sprintf("[%d] %s", i+1, r[0]), r[1]})
		}
	}
	return rows
}

func contentRows(c any) [][]string {
	n := func(v int64) string { return strconv.FormatInt(v, 10) }
	ts := func(v int64) string {
		if v == 0 {
			return "-"
		}
		return time.Unix(v, 0).UTC().Format(time.RFC3339)
	}
	list := func(s []string) string {
		if len(s) == 0 {
			return "-"
		}
		return strings.Join(s, ",")
	}
	switch v := c.(type) {
	case *token.License:
		return [][]string{{"license_id", v.LicenseID}, {"serial", v.Serial}, {"customer_id", v.CustomerID},
			{"device_id", v.DeviceID}, {"device_key", v.DeviceKey}, {"models", list(v.Models)}, {"type", v.Type},
			{"billing", v.Billing}, {"max_samples_per_hour", n(v.MaxSamplesPerHour)}, {"enforcement", v.Enforcement},
			{"features", list(v.Features)}, {"not_before", ts(v.NotBefore)}, {"not_after", ts(v.NotAfter)},
			{"days", n(v.Days)}, {"days_through_seq", n(v.DaysThroughSeq)}, {"version", n(v.Version)}, {"issued_at", ts(v.IssuedAt)}}
	case *token.RevocationList:
		return [][]string{{"device_id", v.DeviceID}, {"seq", n(v.Seq)}, {"issued_at", ts(v.IssuedAt)}, {"next_update", ts(v.NextUpdate)},
			{"revoked_licenses", list(v.RevokedLicenses)}, {"suspended_licenses", list(v.SuspendedLicenses)},
			{"blacklisted_devices", list(v.BlacklistedDevices)}, {"superseded_licenses", list(v.SupersededLicenses)}}
	case *ActivationRequest:
		return [][]string{{"device_id", v.DeviceID}, {"model", v.Model}, {"public_key", v.PublicKey}, {"created_at", ts(v.CreatedAt)}}
	case *ActivationKey:
		return [][]string{{"device_id", v.DeviceID}, {"device_key", v.DeviceKey}, {"seq", n(v.Seq)},
			{"trust_fingerprint", v.TrustFingerprint}, {"tokens", strconv.Itoa(len(v.Tokens))}, {"acked_seq", n(v.AckedSeq)},
			{"issued_at", ts(v.IssuedAt)}, {"expires_at", ts(v.ExpiresAt)}}
	case *syncproto.Report:
		rows := [][]string{{"device_id", v.DeviceID}, {"nonce", v.Nonce}, {"sent_at", ts(v.SentAt)},
			{"revocation_seq", n(v.RevocationSeq)}, {"tokens", strconv.Itoa(len(v.Tokens))}, {"deductions", strconv.Itoa(len(v.Deductions))}}
		if k := len(v.Deductions); k > 0 {
			rows = append(rows, []string{"deduction_seqs", n(v.Deductions[0].Seq) + ".." + n(v.Deductions[k-1].Seq)})
		}
		var acc, over int64
		for _, c := range v.Counts {
			acc, over = acc+c.Accepted, over+c.Overage
		}
		return append(rows, []string{"counts", strconv.Itoa(len(v.Counts))}, []string{"accepted", n(acc)}, []string{"overage", n(over)})
	case *syncproto.Response:
		return [][]string{{"device_id", v.DeviceID}, {"nonce", v.Nonce}, {"server_time", ts(v.ServerTime)},
			{"acked_seq", n(v.AckedSeq)}, {"tokens", strconv.Itoa(len(v.Tokens))}}
	case json.RawMessage:
		return [][]string{{"payload", string(v)}}
	}
	return nil
}
