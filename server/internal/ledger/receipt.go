package ledger

import (
	"context"

	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
)

// ReceiptResult is what importing a usage receipt did.
type ReceiptResult struct {
	DeviceID string
	Nonce    string
	// Duplicate reports a receipt imported before: nothing was applied.
	Duplicate bool
	// State is the device's sync summary after the import.
	State   SyncState
	Missing []syncproto.SeqRange
	// NewForks and NewOverdrafts are what this import added.
	NewForks, NewOverdrafts int64
	// Deductions and Counts are how many records the receipt carried.
	Deductions, Counts int
}

// receiptAudit is what the audit log keeps of an import.
type receiptAudit struct {
	Nonce         string `json:"nonce"`
	SentAt        int64  `json:"sent_at"`
	Deductions    int    `json:"deductions"`
	Counts        int    `json:"counts"`
	AckedSeq      int64  `json:"acked_seq"`
	NewForks      int64  `json:"new_forks"`
	NewOverdrafts int64  `json:"new_overdrafts"`
}

// ImportReceipt reconciles a verified usage receipt (docs/design.md#air-gapped-sites step 4)
// exactly as a sync — the same transaction, idempotency and fork detection
// — for an actor who may manage the device's customer (role operator).
// The import is audited; the same receipt imported again changes nothing.
func (lg *Ledger) ImportReceipt(ctx context.Context, a Actor, r *syncproto.Report) (*ReceiptResult, error) {
	imp := &receiptImport{actor: a, nonce: r.Nonce}
	res, err := lg.reconcile(r.DeviceID, r, 0, imp)
	if err != nil {
		return nil, err
	}
	st, missing := res.st, res.missing
	out := &ReceiptResult{DeviceID: r.DeviceID, Nonce: r.Nonce, Duplicate: imp.duplicate, State: st, Missing: missing,
		Deductions: len(r.Deductions), Counts: len(r.Counts)}
	if !imp.duplicate {
		out.NewForks, out.NewOverdrafts = st.Forks-imp.before.Forks, st.Overdrafts-imp.before.Overdrafts
	}
	return out, nil
}

// startImport checks that the actor may manage d's customer and reports
// whether this receipt (by nonce) was imported before.
func (o *op) startImport(imp *receiptImport, d *Device, st SyncState) (bool, error) {
	c, err := o.customer(d.CustomerID)
	if err != nil {
		return false, err
	}
	if !o.sees(imp.actor, c) {
		return false, notFound("device", d.ID)
	}
	if err := o.canManage(imp.actor, c, RoleOperator); err != nil {
		return false, err
	}
	imp.before = st
	seen, err := o.x.Has(store.UsageReceiptKey(d.ID, imp.nonce))
	imp.duplicate = seen
	return seen, err
}

// finishImport marks the receipt imported and audits the import.
func (o *op) finishImport(imp *receiptImport, d *Device, st SyncState, r *syncproto.Report) error {
	if err := o.x.Put(store.UsageReceiptKey(d.ID, r.Nonce), nil); err != nil {
		return err
	}
	rec := receiptAudit{Nonce: r.Nonce, SentAt: r.SentAt, Deductions: len(r.Deductions), Counts: len(r.Counts),
		AckedSeq: st.AckedSeq, NewForks: st.Forks - imp.before.Forks, NewOverdrafts: st.Overdrafts - imp.before.Overdrafts}
	return o.audit(imp.actor, "device.usage_import", "device", d.ID, d.CustomerID, nil, &rec)
}
