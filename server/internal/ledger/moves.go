package ledger

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/token"
)

func (o *op) recordSale(a Actor, kind, from, to string, ids []string) error {
	_, err := o.newSale(a, kind, from, to, ids)
	return err
}

func (o *op) newSale(a Actor, kind, from, to string, ids []string) (*Sale, error) {
	seq, err := o.x.NextSeq("sales")
	if err != nil {
		return nil, err
	}
	s := &Sale{ID: seq, Kind: kind, From: from, To: to, LicenseIDs: ids, At: o.now, By: a.UserID}
	if err := o.x.PutJSON(store.SaleKey(seq), s); err != nil {
		return nil, err
	}
	if err := o.indexUnder([]string{from, to}, func(id string) []byte { return store.SaleByCustomerKey(id, seq) }); err != nil {
		return nil, err
	}
	return s, o.audit(a, "sale."+kind, "sale", fmt.Sprint(seq), to, nil, s, from)
}

// SetLock locks or unlocks a license. Only unused licenses can be locked; a
// locked license can be neither sold, returned nor bound.
func (lg *Ledger) SetLock(ctx context.Context, a Actor, idOrSerial string, lock bool) (*LicenseView, error) {
	return lg.changeLicense(a, idOrSerial, "license.lock", func(o *op, l *License, owner *Customer) error {
		if err := o.canManage(a, owner, RoleAdmin); err != nil {
			return err
		}
		if lock && l.Status(o.now) != StatusUnused {
			return fmt.Errorf("%w: only unused licenses can be locked; %s is %s", ErrNotUnused, l.ID, l.Status(o.now))
		}
		l.Locked = lock
		return nil
	})
}

// changeLicense loads a visible license, applies fn, writes it and logs the
// change; fn does its own authorization.
func (lg *Ledger) changeLicense(a Actor, idOrSerial, action string, fn func(*op, *License, *Customer) error) (*LicenseView, error) {
	var out LicenseView
	err := lg.update(func(o *op) error {
		l, owner, err := o.visibleLicense(a, idOrSerial)
		if err != nil {
			return err
		}
		before := *l
		if err := fn(o, l, owner); err != nil {
			return err
		}
		if err := o.putLicense(&before, l); err != nil {
			return err
		}
		out = o.licenseView(a, l)
		return o.audit(a, action, "license", l.ID, l.CustomerID, &before, l, before.CustomerID)
	})
	return &out, err
}

// neverActivated refuses a license that was activated or is bound: only
// those may be deleted or moved.
func (l *License) neverActivated() error {
	if !l.ActivatedAt.IsZero() || l.terminal() {
		return fmt.Errorf("%w: %s can no longer be deleted or moved", ErrActivated, l.ID)
	}
	if l.DeviceID != "" {
		return fmt.Errorf("%w: %s is bound to %s; unbind it first", ErrBound, l.ID, l.DeviceID)
	}
	return nil
}

// DeleteLicense deletes a never-activated license (a creation mistake). It
// is an issuer's action.
func (lg *Ledger) DeleteLicense(ctx context.Context, a Actor, idOrSerial string) error {
	return lg.update(func(o *op) error {
		l, owner, err := o.visibleLicense(a, idOrSerial)
		if err != nil {
			return err
		}
		if err := o.canIssue(a, owner); err != nil {
			return err
		}
		if err := l.neverActivated(); err != nil {
			return err
		}
		if err := o.deleteLicense(l); err != nil {
			return err
		}
		return o.audit(a, "license.delete", "license", l.ID, l.CustomerID, l, nil)
	})
}

// MoveLicense gives a never-activated license, same id, to another customer
// of the issuer's subtree (a license created under the wrong customer).
func (lg *Ledger) MoveLicense(ctx context.Context, a Actor, idOrSerial, to string) (*LicenseView, error) {
	return lg.changeLicense(a, idOrSerial, "license.move", func(o *op, l *License, owner *Customer) error {
		if err := o.canIssue(a, owner); err != nil {
			return err
		}
		target, err := o.visibleCustomer(a, to)
		if err != nil {
			return err
		}
		if err := o.canIssue(a, target); err != nil {
			return err
		}
		if err := l.neverActivated(); err != nil {
			return err
		}
		if target.ID == l.CustomerID {
			return invalid("license %s already belongs to %s", l.ID, to)
		}
		org, err := o.meet(o.origin(l), target.ID)
		if err != nil {
			return err
		}
		from := l.CustomerID
		l.CustomerID, l.Origin = target.ID, org
		return o.recordSale(a, SaleMove, from, target.ID, []string{l.ID})
	})
}

// BatchInput names the licenses of a sale or return: ids, or a count of
// eligible licenses picked oldest first (of Type, standard by default, so
// that a customer's trial is never sold by accident).
type BatchInput struct {
	CustomerID string // sell: the buyer; return: the customer returning (default: the actor's)
	IDs        []string
	Count      int
	Type       string
}

func (in *BatchInput) check() error {
	if (len(in.IDs) == 0) == (in.Count == 0) {
		return invalid("give either ids or a count")
	}
	if in.Count < 0 || in.Count > MaxBatch || len(in.IDs) > MaxBatch {
		return invalid("a batch is 1..%d licenses", MaxBatch)
	}
	if in.Type == "" {
		in.Type = token.TypeStandard
	}
	if in.Type != token.TypeStandard && in.Type != token.TypeTrial {
		return invalid("type %q", in.Type)
	}
	return nil
}

// Sell moves unused, unlocked licenses from a customer down to one of its
// direct sub-customers, all or none, as one sales record.
func (lg *Ledger) Sell(ctx context.Context, a Actor, in BatchInput) (*Sale, error) {
	if err := in.check(); err != nil {
		return nil, err
	}
	return lg.batchMove(a, SaleSell, in, func(o *op) (*Customer, *Customer, error) {
		to, err := o.visibleCustomer(a, in.CustomerID)
		if err != nil {
			return nil, nil, err
		}
		if to.ID == a.CustomerID || to.ParentID == "" {
			return nil, nil, fmt.Errorf("%w: %s is not a sub-customer of the seller", ErrNotDirectChild, to.ID)
		}
		from, err := o.customer(to.ParentID)
		return from, to, err
	})
}

// Return moves unused, unlocked licenses from a customer up to its parent,
// all or none, as one sales record. Only what came down may go up: each
// license's origin must be the parent or above it (issuers.go).
func (lg *Ledger) Return(ctx context.Context, a Actor, in BatchInput) (*Sale, error) {
	if err := in.check(); err != nil {
		return nil, err
	}
	return lg.batchMove(a, SaleReturn, in, func(o *op) (*Customer, *Customer, error) {
		fromID := in.CustomerID
		if fromID == "" && len(in.IDs) > 0 {
			if l, _, err := o.visibleLicense(a, in.IDs[0]); err == nil {
				fromID = l.CustomerID
			}
		}
		if fromID == "" {
			fromID = a.CustomerID
		}
		from, err := o.visibleCustomer(a, fromID)
		if err != nil {
			return nil, nil, err
		}
		if from.ParentID == "" {
			return nil, nil, invalid("the vendor root has no one to return licenses to")
		}
		to, err := o.customer(from.ParentID)
		return from, to, err
	})
}

// batchMove applies a sell or return: ends picks the two customers, the
// actor must manage the giving side, every license must be the giver's,
// unused and unlocked.
func (lg *Ledger) batchMove(a Actor, kind string, in BatchInput, ends func(*op) (*Customer, *Customer, error)) (*Sale, error) {
	var out *Sale
	err := lg.update(func(o *op) error {
		from, to, err := ends(o)
		if err != nil {
			return err
		}
		if err := o.canManage(a, from, RoleAdmin); err != nil {
			return err
		}
		ls, err := o.pickBatch(a, from, in, func(l *License) error {
			if kind == SaleReturn {
				return o.cameDownTo(l, to)
			}
			return nil
		})
		if err != nil {
			return err
		}
		ids := make([]string, 0, len(ls))
		for _, l := range ls {
			before := *l
			l.CustomerID = to.ID
			if err := o.putLicense(&before, l); err != nil {
				return err
			}
			if err := o.audit(a, "license."+kind, "license", l.ID, to.ID, &before, l, from.ID); err != nil {
				return err
			}
			ids = append(ids, l.ID)
		}
		out, err = o.newSale(a, kind, from.ID, to.ID, ids)
		return err
	})
	return out, err
}

// pickBatch resolves ids (each must qualify) or picks Count qualifying
// licenses of the giver, oldest first; rule adds the move's own condition
// (a return takes only what came down).
func (o *op) pickBatch(a Actor, from *Customer, in BatchInput, rule func(*License) error) ([]*License, error) {
	eligible := func(l *License) error {
		if l.CustomerID != from.ID {
			return invalid("license %s belongs to %s, not %s", l.ID, l.CustomerID, from.ID)
		}
		if l.Locked {
			return fmt.Errorf("%w: %s", ErrLocked, l.ID)
		}
		if st := l.Status(o.now); st != StatusUnused {
			return fmt.Errorf("%w: %s is %s", ErrNotUnused, l.ID, st)
		}
		return rule(l)
	}
	var out []*License
	if len(in.IDs) > 0 {
		seen := map[string]bool{}
		for _, id := range in.IDs {
			l, _, err := o.visibleLicense(a, id)
			if err != nil {
				return nil, err
			}
			if seen[l.ID] {
				return nil, invalid("license %s listed twice", l.ID)
			}
			seen[l.ID] = true
			if err := eligible(l); err != nil {
				return nil, err
			}
			out = append(out, l)
		}
		return out, nil
	}
	err := o.x.Scan(store.LicenseByCustomerPrefix(from.ID), nil, false, func(k, _ []byte) (bool, error) {
		l, err := o.license(store.LastPart(k))
		if err != nil {
			return false, err
		}
		if l.Type == in.Type && eligible(l) == nil {
			out = append(out, l)
		}
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) < in.Count {
		return nil, fmt.Errorf("%w: %s has %d unused, unlocked %s licenses that may go this way, %d asked", ErrNotEnough, from.ID, len(out), in.Type, in.Count)
	}
	slices.SortStableFunc(out, func(x, y *License) int { return x.CreatedAt.Compare(y.CreatedAt) })
	return out[:in.Count], nil
}

// Transfer gives a license to another customer under a new id (docs/design.md#transfer
// "Transfer"). The old id becomes transferred: unbound, listed as revoked so
// agents drop its tokens, kept for tracking. The new license carries the
// same terms, time and days, unbound.
func (lg *Ledger) Transfer(ctx context.Context, a Actor, idOrSerial, to string) (*LicenseView, *LicenseView, error) {
	var oldV, newV LicenseView
	err := lg.update(func(o *op) error {
		l, owner, err := o.visibleLicense(a, idOrSerial)
		if err != nil {
			return err
		}
		if err := o.canManage(a, owner, RoleAdmin); err != nil {
			return err
		}
		target, err := o.visibleCustomer(a, to)
		if err != nil {
			return err
		}
		if target.ID == l.CustomerID {
			return invalid("license %s already belongs to %s", l.ID, to)
		}
		if l.Locked {
			return fmt.Errorf("%w: %s", ErrLocked, l.ID)
		}
		if err := l.usable(o.now); err != nil {
			return err
		}
		serial, err := o.newSerial()
		if err != nil {
			return err
		}
		n := *l
		org, err := o.meet(o.origin(l), target.ID)
		if err != nil {
			return err
		}
		n.ID, n.Serial, n.CustomerID, n.TransferredFrom, n.Origin = newUUID(), serial, target.ID, l.ID, org
		n.DeviceID, n.BoundAt, n.Version, n.TokenUntil, n.CreatedAt = "", time.Time{}, 1, 0, o.now
		before := *l
		l.TransferredTo = n.ID
		if err := o.reissue(l); err != nil { // drops its token
			return err
		}
		if err := o.markRevoked(l); err != nil {
			return err
		}
		if err := o.putLicense(&before, l); err != nil {
			return err
		}
		if err := o.audit(a, "license.transfer", "license", l.ID, l.CustomerID, &before, l); err != nil {
			return err
		}
		if err := o.putLicense(nil, &n); err != nil {
			return err
		}
		if err := o.audit(a, "license.create", "license", n.ID, n.CustomerID, nil, &n); err != nil {
			return err
		}
		if err := o.emitTransfer(l, &n); err != nil {
			return err
		}
		oldV, newV = o.licenseView(a, l), o.licenseView(a, &n)
		return o.recordSale(a, SaleTransfer, before.CustomerID, target.ID, []string{l.ID, n.ID})
	})
	return &oldV, &newV, err
}
