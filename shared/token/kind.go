package token

import "github.com/tollgate-iot/tollgate/shared/limits"

// Kind is a signed document kind. Each kind has its own text code, Ed25519
// context string and size cap.
type Kind uint8

// The document kinds. Their codes and contexts are part of the wire format:
// never renumber or rename one.
const (
	// KindLicense is a license token, signed by a server key.
	KindLicense Kind = iota + 1
	// KindRevocation is a revocation list, signed by a server key.
	KindRevocation
	// KindActivationRequest is an air-gapped activation request, signed by a device key.
	KindActivationRequest
	// KindActivationKey is an air-gapped activation key bundle, signed by a server key.
	KindActivationKey
	// KindUsageReceipt is an air-gapped usage receipt, signed by a device key.
	KindUsageReceipt
	// KindSyncRequest is a device's sync request, signed by a device key.
	KindSyncRequest
	// KindSyncResponse is the server's sync answer or MQTT push, signed by a server key.
	KindSyncResponse
	// KindTrustBundle is a trust bundle signed by an already trusted server key.
	KindTrustBundle
)

type kindInfo struct {
	code     string
	context  string
	maxBytes int
}

var kinds = [...]kindInfo{
	KindLicense:           {"lic", "tollgate/v1/lic", limits.MaxLicenseTokenBytes},
	KindRevocation:        {"rev", "tollgate/v1/rev", limits.MaxRevocationListBytes},
	KindActivationRequest: {"req", "tollgate/v1/req", limits.MaxSignedDocumentBytes},
	KindActivationKey:     {"act", "tollgate/v1/act", limits.MaxSignedDocumentBytes},
	KindUsageReceipt:      {"use", "tollgate/v1/use", limits.MaxSignedDocumentBytes},
	KindSyncRequest:       {"syq", "tollgate/v1/syq", limits.MaxSignedDocumentBytes},
	KindSyncResponse:      {"sys", "tollgate/v1/sys", limits.MaxSignedDocumentBytes},
	KindTrustBundle:       {"trs", "tollgate/v1/trs", limits.MaxTrustBundleBytes * 2},
}

func (k Kind) valid() bool { return k > 0 && int(k) < len(kinds) }

// String returns the kind's three-letter code.
func (k Kind) String() string {
	if !k.valid() {
		return "unknown"
	}
	return kinds[k].code
}

// MaxBytes returns the size cap of the kind's text form.
func (k Kind) MaxBytes() int {
	if !k.valid() {
		return 0
	}
	return kinds[k].maxBytes
}

func kindByCode(code string) (Kind, bool) {
	for k := KindLicense; k.valid(); k++ {
		if kinds[k].code == code {
			return k, true
		}
	}
	return 0, false
}
