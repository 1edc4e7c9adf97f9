package airgap

import (
	"fmt"

	"github.com/tollgate-iot/tollgate/shared/syncproto"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// SignUsageReceipt signs a usage report with the device key as a usage
// receipt (docs/design.md#air-gapped-sites step 4) and returns the armored file. The report is the
// one an online sync carries (syncproto.Report), so the server reconciles
// both on one path.
func SignUsageReceipt(device *token.Signer, r *syncproto.Report) ([]byte, error) {
	text, err := syncproto.SignReceipt(device, r)
	if err != nil {
		return nil, err
	}
	return Armor(token.KindUsageReceipt, text)
}

// OpenUsageReceipt reads an armored usage receipt and verifies it against
// the device's key (a trust holding that one key).
func OpenUsageReceipt(device *token.Trust, data []byte) (*syncproto.Report, error) {
	kind, text, err := Dearmor(data)
	if err != nil {
		return nil, err
	}
	if kind != token.KindUsageReceipt {
		return nil, fmt.Errorf("%w: file holds a %s document, want a usage receipt", token.ErrWrongKind, kind)
	}
	return syncproto.OpenReport(device, token.KindUsageReceipt, text)
}
