package runtime

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"

	"github.com/tollgate-iot/tollgate/agent/internal/store"
	"github.com/tollgate-iot/tollgate/agent/internal/syncer"
	"github.com/tollgate-iot/tollgate/shared/airgap"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// Receipt describes a usage receipt ExportUsage wrote.
type Receipt struct {
	DeviceID string `json:"device_id"`
	Nonce    string `json:"nonce"`
	SentAt   int64  `json:"sent_at"`
	// AckedSeq is the acknowledged mark the receipt starts above.
	AckedSeq   int64 `json:"acked_seq"`
	Deductions int   `json:"deductions"`
	// FirstSeq and LastSeq bound the deduction seqs it carries (0: none).
	FirstSeq int64 `json:"first_seq"`
	LastSeq  int64 `json:"last_seq"`
	Counts   int   `json:"counts"`
	// More tells that records were left out (over the report caps): import
	// this receipt, apply the activation key made after it, export again.
	More  bool `json:"more"`
	Bytes int  `json:"bytes"`
}

// ExportUsage writes a usage receipt (docs/design.md#air-gapped-sites step 4): the same report an
// online sync sends (syncer.Build), signed by the device key as a receipt.
// It carries every deduction above the acknowledged mark (moved only by a
// sync answer or an activation key's acked_seq, never by an export) and the
// hourly counts of every device from the last hour a sync acknowledged, so
// a lost receipt costs nothing: the next one carries the same records
// again, and the server applies each record once. Nothing is stored.
func (a *Agent) ExportUsage() ([]byte, Receipt, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, Receipt{}, fmt.Errorf("receipt nonce: %w", err)
	}
	devs := make([]string, 0, 1+len(a.cfg.Children))
	for _, d := range a.gate.Devices() {
		devs = append(devs, d.ID)
	}
	in := syncer.BuildInput{DeviceID: a.id.DeviceID, Devices: devs, Held: a.held(),
		Nonce: base64.RawURLEncoding.EncodeToString(b[:]), SentAt: a.effSeconds()}
	rep, page, err := syncer.Build(a.st, in)
	if err != nil {
		return nil, Receipt{}, err
	}
	signer, err := token.NewSigner(a.priv)
	if err != nil {
		return nil, Receipt{}, err
	}
	file, err := airgap.SignUsageReceipt(signer, rep)
	if err != nil {
		return nil, Receipt{}, err
	}
	if err := a.st.PutJSON(store.KeyClock(), a.clk.State()); err != nil {
		return nil, Receipt{}, err
	}
	r := Receipt{DeviceID: rep.DeviceID, Nonce: rep.Nonce, SentAt: rep.SentAt, AckedSeq: page.FromSeq,
		Deductions: len(rep.Deductions), LastSeq: page.LastSeq, Counts: len(rep.Counts),
		More: page.MoreDeductions || page.MoreCounts, Bytes: len(file)}
	if len(rep.Deductions) > 0 {
		r.FirstSeq = rep.Deductions[0].Seq
	}
	a.log.Info("usage receipt written", "device_id", r.DeviceID, "deductions", r.Deductions, "counts", r.Counts, "more", r.More)
	return file, r, nil
}

// ExportedReceipt is a running agent's answer to POST /v1/export-usage.
type ExportedReceipt struct {
	// File is the armored receipt, for the CLI to write.
	File    string  `json:"file"`
	Receipt Receipt `json:"receipt"`
}

// ExportUsage lets `tollgate-agent export-usage` work while `run` holds
// the data directory (ingest.UsageExporter).
func (c control) ExportUsage() (any, error) {
	f, r, err := c.a.ExportUsage()
	if err != nil {
		return nil, err
	}
	return ExportedReceipt{File: string(f), Receipt: r}, nil
}
