package ledger

import (
	"context"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/store"
)

// issuedRecord is the value of an issued-index entry: what the license was
// created as, which later changes (top-ups, moves) do not rewrite.
type issuedRecord struct {
	CreatedFor string `json:"for"`
	Days       int64  `json:"days,omitempty"`
	UserID     string `json:"by"`
}

// indexIssued records a license created with an issuer right under the
// issuer and each of its ancestors, by creation second.
func (o *op) indexIssued(l *License, createdFor, userID string) error {
	if l.IssuedBy == "" { // an automatic trial: nobody bought it
		return nil
	}
	issuer, err := o.customer(l.IssuedBy)
	if err != nil {
		return err
	}
	rec := issuedRecord{CreatedFor: createdFor, Days: l.TotalDays, UserID: userID}
	for _, c := range append(append([]string{}, issuer.Path...), issuer.ID) {
		if err := o.x.PutJSON(store.IssuedKey(c, l.CreatedAt.Unix(), l.ID), rec); err != nil {
			return err
		}
	}
	return nil
}

// CreatedRow is one license created in the month of a created report.
type CreatedRow struct {
	LicenseID, Serial string
	CreatedAt         time.Time
	// IssuedBy is the customer whose issuer right created it; CreatedFor
	// the customer it was created for, CreatedBy the user.
	IssuedBy, CreatedFor, CreatedBy string
	Type, Billing                   string
	Models                          []string
	MaxSamplesPerHour               int64
	Months                          int
	// Days is a day license's days as created (top-ups later are not
	// part of this purchase).
	Days int64
	// CustomerID and Status are the license's owner and status now.
	CustomerID             string
	Status                 Status
	DistributorDescription string
}

// CreatedQuery selects the licenses created in the month starting at
// Month by Customer's issuer right or one below it (empty Customer: the
// actor's own customer).
type CreatedQuery struct {
	Customer string
	Month    time.Time
	Cursor   string
	Limit    int
}

// ReportCreated lists the licenses of the query from the issued index, in
// order of creation, a page at a time. A license deleted since (never
// activated) is left out: nobody is billed for it.
func (lg *Ledger) ReportCreated(ctx context.Context, a Actor, q CreatedQuery) ([]CreatedRow, string, error) {
	month := time.Date(q.Month.Year(), q.Month.Month(), 1, 0, 0, 0, 0, time.UTC)
	if !q.Month.Equal(month) {
		return nil, "", invalid("month must be the first instant of a month, UTC")
	}
	limit := PageLimit(q.Limit)
	var out []CreatedRow
	var next string
	err := lg.view(func(o *op) error {
		top, err := o.reportCustomer(a, q.Customer)
		if err != nil {
			return err
		}
		p := store.IssuedPrefix(top.ID)
		after := store.IssuedFrom(top.ID, month.Unix())
		after = after[:len(after)-1] // every key of that second or later
		if q.Cursor != "" {
			k := append(append([]byte{}, p...), q.Cursor...)
			if at, _, ok := store.IssuedParts(k); !ok || at < month.Unix() {
				return invalid("cursor %q is not one this server issued", q.Cursor)
			}
			after = k
		}
		end := month.AddDate(0, 1, 0).Unix()
		var last string
		return o.x.Scan(p, after, true, func(k, v []byte) (bool, error) {
			at, id, ok := store.IssuedParts(k)
			if !ok {
				return false, store.ErrCorrupt
			}
			if at >= end {
				return false, nil
			}
			if len(out) == limit {
				next = last
				return false, nil
			}
			last = string(k[len(p):])
			var rec issuedRecord
			if err := jsonUnmarshal(v, &rec); err != nil {
				return false, err
			}
			l, err := o.license(id)
			if err != nil {
				return true, nil // deleted since
			}
			out = append(out, o.createdRow(a, l, &rec))
			return true, nil
		})
	})
	return out, next, err
}

func (o *op) createdRow(a Actor, l *License, rec *issuedRecord) CreatedRow {
	row := CreatedRow{LicenseID: l.ID, Serial: l.Serial, CreatedAt: l.CreatedAt, IssuedBy: l.IssuedBy,
		CreatedFor: rec.CreatedFor, CreatedBy: rec.UserID, Type: l.Type, Billing: l.Billing, Models: l.Models,
		MaxSamplesPerHour: l.MaxSamplesPerHour, Months: l.DurationMonths, Days: rec.Days,
		CustomerID: l.CustomerID, Status: l.Status(o.now)}
	if o.readsDescription(a, l.DescribedBy, l.CustomerID) {
		row.DistributorDescription = l.DistributorDescription
	}
	return row
}

// seedIssued puts every license of a store older than the issued index
// into it, in batches, once: the customer it was created for is the owner
// its first history entry names (its owner now when it has none).
func (lg *Ledger) seedIssued() error {
	return lg.eachLicenseOnce(store.IssuedSeededKey(), func(o *op, l *License) error {
		if l.IssuedBy == "" || l.CreatedAt.IsZero() || l.TransferredFrom != "" {
			return nil // a trial, or a transfer's replacement: not bought
		}
		owner, err := o.firstOwner(l)
		if err != nil {
			return err
		}
		return o.indexIssued(l, owner, "")
	})
}

// firstOwner is the owner l's oldest history entry names, or its owner now.
func (o *op) firstOwner(l *License) (string, error) {
	owner := l.CustomerID
	err := o.x.Scan(store.LicenseHistoryPrefix(l.ID), nil, true, func(_, v []byte) (bool, error) {
		var e HistoryEntry
		if err := jsonUnmarshal(v, &e); err != nil {
			return false, err
		}
		if e.State.CustomerID != "" {
			owner = e.State.CustomerID
		}
		return false, nil
	})
	return owner, err
}
