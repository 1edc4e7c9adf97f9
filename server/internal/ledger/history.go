package ledger

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/store"
)

func jsonUnmarshal(b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return store.ErrCorrupt
	}
	return nil
}

// ListAudit returns audit entries about objects the actor sees, newest
// first, before the cursor (an entry seq), at most limit. Issuer-only fields
// (distributor description, VAT) are removed from before/after for actors
// who may not see them.
func (lg *Ledger) ListAudit(ctx context.Context, a Actor, cursor string, limit int) ([]AuditEntry, string, error) {
	return newestFirst(lg, a, cursor, limit, customerIndex{
		key: store.AuditByCustomerKey, prefix: store.AuditByCustomerPrefix, record: store.AuditKey,
	}, func(o *op, e *AuditEntry) (int64, bool) {
		e.Before, e.After = o.redact(a, e.CustomerID, e.Before), o.redact(a, e.CustomerID, e.After)
		return e.Seq, true
	})
}

// customerIndex names the keys of a log indexed under each customer that
// may see its records (the records' owners and their ancestors).
type customerIndex struct {
	key    func(customer string, seq int64) []byte
	prefix func(customer string) []byte
	record func(seq int64) []byte
}

// MaxScannedPerPage bounds the records one page of a filtered log reads:
// when the filters skip that many, the page ends short with a cursor to
// go on from.
const MaxScannedPerPage = 5000

// newestFirst pages a customer-indexed log for the actor, newest first,
// before the cursor (a record seq), at most limit records; prepare adjusts
// each record for the actor and returns its seq for the next cursor and
// whether the page keeps it (a filter). At most MaxScannedPerPage records
// are read for one page.
func newestFirst[T any](lg *Ledger, a Actor, cursor string, limit int, ix customerIndex, prepare func(*op, *T) (int64, bool)) ([]T, string, error) {
	limit = PageLimit(limit)
	var out []T
	var next string
	err := lg.view(func(o *op) error {
		viewer := a.CustomerID
		if a.system {
			viewer = o.lg.RootID()
		}
		var before []byte
		if n, err := strconv.ParseInt(cursor, 10, 64); err == nil && n > 0 {
			before = ix.key(viewer, n)
		}
		var lastSeq int64
		scanned := 0
		return o.x.Reverse(ix.prefix(viewer), before, func(k, _ []byte) (bool, error) {
			seq, err := strconv.ParseInt(store.LastPart(k), 10, 64)
			if err != nil {
				return false, store.ErrCorrupt
			}
			if len(out) == limit || scanned == MaxScannedPerPage {
				next = strconv.FormatInt(lastSeq, 10)
				return false, nil
			}
			scanned++
			var rec T
			if err := o.x.GetJSON(ix.record(seq), &rec); err != nil {
				return false, err
			}
			var keep bool
			lastSeq, keep = prepare(o, &rec)
			if keep {
				out = append(out, rec)
			}
			return true, nil
		})
	})
	return out, next, err
}

// redact drops from a logged object what a may not read: a distributor
// description it did not write (nor a descendant of it), a VAT number of a
// customer it is not the parent of.
func (o *op) redact(a Actor, owner string, b json.RawMessage) json.RawMessage {
	if len(b) == 0 || a.system {
		return b
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) != nil {
		return nil
	}
	var describer, parent string
	json.Unmarshal(m["described_by"], &describer)
	json.Unmarshal(m["parent_id"], &parent)
	if _, ok := m["distributor_description"]; ok && !o.readsDescription(a, describer, owner) {
		delete(m, "distributor_description")
	}
	if _, ok := m["vat"]; ok && parent != a.CustomerID {
		delete(m, "vat")
	}
	out, _ := json.Marshal(m)
	return out
}

// SaleFilter selects sales records; empty fields do not filter.
type SaleFilter struct {
	// From and To keep records made in [From, To).
	From, To time.Time
	// LicenseID keeps records that moved this license.
	LicenseID string
	// Kind keeps records of one method: SaleSell, SaleReturn, SaleMove,
	// SaleTransfer or SaleBindHandoff.
	Kind   string
	Cursor string
	Limit  int
}

// SaleKinds are the methods a sales record can have.
var SaleKinds = []string{SaleSell, SaleReturn, SaleMove, SaleTransfer, SaleBindHandoff}

func (f *SaleFilter) matches(s *Sale) bool {
	return within(s.At, f.From, f.To) && (f.Kind == "" || s.Kind == f.Kind) &&
		(f.LicenseID == "" || slices.Contains(s.LicenseIDs, f.LicenseID))
}

// ListSales returns sales records that involve a customer the actor sees
// (read from an index under both sides and their ancestors) and match f,
// newest first, before the cursor (a record id), at most limit. A page
// reads at most MaxScannedPerPage records, so a narrow filter over a long
// log may return a short page with a cursor to go on from.
func (lg *Ledger) ListSales(ctx context.Context, a Actor, f SaleFilter) ([]Sale, string, error) {
	return newestFirst(lg, a, f.Cursor, f.Limit, customerIndex{
		key: store.SaleByCustomerKey, prefix: store.SaleByCustomerPrefix, record: store.SaleKey,
	}, func(_ *op, s *Sale) (int64, bool) { return s.ID, f.matches(s) })
}
