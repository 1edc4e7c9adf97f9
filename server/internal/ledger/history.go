package ledger

import (
	"context"
	"encoding/json"
	"strconv"

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
	}, func(o *op, e *AuditEntry) int64 {
		e.Before, e.After = o.redact(a, e.CustomerID, e.Before), o.redact(a, e.CustomerID, e.After)
		return e.Seq
	})
}

// customerIndex names the keys of a log indexed under each customer that
// may see its records (the records' owners and their ancestors).
type customerIndex struct {
	key    func(customer string, seq int64) []byte
	prefix func(customer string) []byte
	record func(seq int64) []byte
}

// newestFirst pages a customer-indexed log for the actor, newest first,
// before the cursor (a record seq), at most limit records; prepare adjusts
// each record for the actor and returns its seq for the next cursor.
func newestFirst[T any](lg *Ledger, a Actor, cursor string, limit int, ix customerIndex, prepare func(*op, *T) int64) ([]T, string, error) {
	limit = PageLimit(limit)
	var out []T
	var next string
	err := lg.view(func(o *op) error {
		viewer := a.CustomerID
		if a.system {
			viewer = o.lg.rootID
		}
		var before []byte
		if n, err := strconv.ParseInt(cursor, 10, 64); err == nil && n > 0 {
			before = ix.key(viewer, n)
		}
		var lastSeq int64
		return o.x.Reverse(ix.prefix(viewer), before, func(k, _ []byte) (bool, error) {
			seq, err := strconv.ParseInt(store.LastPart(k), 10, 64)
			if err != nil {
				return false, store.ErrCorrupt
			}
			if len(out) == limit {
				next = strconv.FormatInt(lastSeq, 10)
				return false, nil
			}
			var rec T
			if err := o.x.GetJSON(ix.record(seq), &rec); err != nil {
				return false, err
			}
			lastSeq = prepare(o, &rec)
			out = append(out, rec)
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

// ListSales returns sales records that involve a customer the actor sees
// (read from an index under both sides and their ancestors), newest first,
// before the cursor (a record id), at most limit.
func (lg *Ledger) ListSales(ctx context.Context, a Actor, cursor string, limit int) ([]Sale, string, error) {
	return newestFirst(lg, a, cursor, limit, customerIndex{
		key: store.SaleByCustomerKey, prefix: store.SaleByCustomerPrefix, record: store.SaleKey,
	}, func(_ *op, s *Sale) int64 { return s.ID })
}
