package api

import (
	"context"
	"fmt"
	"mime"
	"net/http"

	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/shared/airgap"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
	"github.com/tollgate-iot/tollgate/shared/token"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// activateOffline is POST /v1/activations/offline (docs/design.md#air-gapped-sites step 2): an
// armored activation request and a license in, a signed activation key out.
func (a *API) activateOffline(w http.ResponseWriter, r *http.Request) {
	var req wire.OfflineActivationRequest
	if err := decode(w, r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	ar, err := airgap.ParseActivationRequest([]byte(req.Request))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	res, err := a.lg.ActivateOffline(r.Context(), actor(r), ar, req.LicenseID)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.log.Info("offline activation", "device_id", res.Key.DeviceID, "license_id", res.Bind.License.ID, "seq", res.Key.Seq)
	a.render(w, http.StatusOK, activationKeyWire(res))
}

// deviceActivationKey is POST /v1/devices/{id}/activation-key: a fresh key
// for a registered device (renewals, top-ups, revocations for the site).
func (a *API) deviceActivationKey(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if err := decodeOptional(w, r, &noBody{}); err != nil {
		a.fail(w, r, err)
		return
	}
	res, err := a.lg.NewActivationKey(r.Context(), actor(r), id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.log.Info("activation key", "device_id", res.Key.DeviceID, "seq", res.Key.Seq)
	a.render(w, http.StatusOK, activationKeyWire(res))
}

// ActivationKeyOf is an activation key as the API answers it.
func ActivationKeyOf(res *ledger.ActivationKeyResult) wire.ActivationKey {
	return activationKeyWire(res)
}

// UsageImportOf is a usage receipt import as the API answers it.
func UsageImportOf(res *ledger.ReceiptResult) wire.UsageImport { return usageImportWire(res) }

func activationKeyWire(res *ledger.ActivationKeyResult) wire.ActivationKey {
	k := &res.Key
	out := wire.ActivationKey{DeviceID: k.DeviceID, DeviceCreated: res.DeviceCreated, Seq: k.Seq, DeviceKey: k.DeviceKey,
		TrustFingerprint: k.TrustFingerprint, Tokens: len(k.Tokens), RevocationSeq: res.RevocationSeq,
		IssuedAt: unix(k.IssuedAt), ExpiresAt: unix(k.ExpiresAt), File: string(res.File)}
	if res.Bind != nil {
		l := toLicense(&res.Bind.License)
		out.License = &l
	}
	return out
}

// importUsage is POST /v1/usage/import (docs/design.md#air-gapped-sites step 4): an armored usage
// receipt in, reconciled exactly as a sync, the summary out.
func (a *API) importUsage(w http.ResponseWriter, r *http.Request) {
	lease, file, err := a.readFile(w, r, wire.MaxUsageReceiptBytes)
	defer lease.close()
	if err != nil {
		a.fail(w, r, err)
		return
	}
	rep, err := OpenReceipt(r.Context(), a.lg, actor(r), file)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	res, err := a.lg.ImportReceipt(r.Context(), actor(r), rep)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.log.Info("usage import", "device_id", res.DeviceID, "duplicate", res.Duplicate, "deductions", res.Deductions,
		"acked_seq", res.State.AckedSeq, "new_forks", res.NewForks)
	a.render(w, http.StatusOK, usageImportWire(res))
}

// OpenReceipt dearmors and verifies a usage receipt against the registered
// key of the device it names, which the caller must be able to see: a
// device outside the caller's tree is not found, before any signature
// check. The web console's upload opens receipts with it too.
func OpenReceipt(ctx context.Context, lg *ledger.Ledger, act ledger.Actor, file []byte) (*syncproto.Report, error) {
	kind, text, err := airgap.Dearmor(file)
	if err != nil {
		return nil, err
	}
	if kind != token.KindUsageReceipt {
		return nil, fmt.Errorf("%w: file holds a %s document, want a usage receipt", token.ErrWrongKind, kind)
	}
	id, err := syncproto.PeekDevice(token.KindUsageReceipt, text)
	if err != nil {
		return nil, err
	}
	d, err := lg.GetDevice(ctx, act, id)
	if err != nil {
		return nil, err
	}
	pub, err := token.ParsePublicKey(d.PublicKey)
	if err != nil {
		return nil, err
	}
	trust, err := token.NewTrust(pub)
	if err != nil {
		return nil, err
	}
	return syncproto.OpenReport(trust, token.KindUsageReceipt, text)
}

func usageImportWire(res *ledger.ReceiptResult) wire.UsageImport {
	out := wire.UsageImport{DeviceID: res.DeviceID, Nonce: res.Nonce, Duplicate: res.Duplicate, Deductions: res.Deductions,
		Counts: res.Counts, AckedSeq: res.State.AckedSeq, HighestSeq: res.State.HighestSeq, Gaps: make([]wire.SeqRange, len(res.Missing)),
		Forks: res.State.Forks, NewForks: res.NewForks, Overdrafts: res.State.Overdrafts, NewOverdrafts: res.NewOverdrafts}
	for i, m := range res.Missing {
		out.Gaps[i] = wire.SeqRange(m)
	}
	return out
}

// readFile reads a bounded text/plain body as is (an armored file keeps
// its final line ending), counted against the body budget; the caller
// closes the lease when it is done with the bytes.
func (a *API) readFile(w http.ResponseWriter, r *http.Request, max int) (*bodyLease, []byte, error) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "text/plain" {
		return nil, nil, ErrNotTextPlain
	}
	if r.ContentLength > int64(max) {
		return nil, nil, fmt.Errorf("%w: Content-Length %d, at most %d bytes", ErrBodyTooLarge, r.ContentLength, max)
	}
	lease, err := a.bodies.enter("")
	if err != nil {
		return nil, nil, err
	}
	b, err := lease.readAll(http.MaxBytesReader(w, r.Body, int64(max)), nil, r.ContentLength, max)
	return lease, b, err
}
