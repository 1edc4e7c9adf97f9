package ledger

import (
	"fmt"
	"slices"

	"github.com/tollgate-iot/tollgate/shared/limits"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// Issuers (docs/design.md#actors, docs/server.md "Issuers"). Creating licenses, and
// adding days to one, mints value; it is a right the vendor grants to a
// customer (a distributor), never a consequence of having sub-customers.
// The vendor root always has it. An issuer may be held to limits.
//
// Every license records who minted it (IssuedBy, for billing) and the
// highest customer it came down from (Origin): a return moves a license up
// to its Origin and no further, so what a customer created below itself,
// or what the system gave it, can never climb above where it came from.

// IssuerLimits bounds what one issuer may create. The zero value allows
// everything the ledger allows.
type IssuerLimits struct {
	// AllowedMonths lists the durations a standard term license may have;
	// empty: any of 1..MaxMonths.
	AllowedMonths []int `json:"allowed_months"`
	// MaxDays caps the total days of a day license the issuer creates or
	// tops up; 0: limits.MaxPrepaidDays.
	MaxDays int64 `json:"max_days"`
}

// normalize checks l and sorts the durations.
func (l *IssuerLimits) normalize() error {
	if len(l.AllowedMonths) > MaxIssuerDurations {
		return invalid("allowed_months lists at most %d durations", MaxIssuerDurations)
	}
	for _, m := range l.AllowedMonths {
		if m < 1 || m > MaxMonths {
			return invalid("allowed_months: %d out of 1..%d", m, MaxMonths)
		}
	}
	l.AllowedMonths = slices.Compact(slices.Sorted(slices.Values(l.AllowedMonths)))
	if l.AllowedMonths == nil {
		l.AllowedMonths = []int{}
	}
	if l.MaxDays < 0 || l.MaxDays > limits.MaxPrepaidDays {
		return invalid("max_days %d out of 0..%d (0: no limit)", l.MaxDays, limits.MaxPrepaidDays)
	}
	return nil
}

// allows checks a normalized license input against the limits.
func (l *IssuerLimits) allows(issuer string, in *LicenseInput) error {
	if in.Type == token.TypeStandard && in.Billing == token.BillingTerm && len(l.AllowedMonths) > 0 &&
		!slices.Contains(l.AllowedMonths, in.Months) {
		return fmt.Errorf("%w: issuer %s may create term licenses of %v months, not %d; ask the vendor to extend allowed_months",
			ErrIssuerLimit, issuer, l.AllowedMonths, in.Months)
	}
	return l.allowsDays(issuer, in.Days)
}

// allowsDays checks a day license's total days against the limits.
func (l *IssuerLimits) allowsDays(issuer string, total int64) error {
	if l.MaxDays > 0 && total > l.MaxDays {
		return fmt.Errorf("%w: issuer %s may give a day license at most %d days, not %d; ask the vendor to raise max_days",
			ErrIssuerLimit, issuer, l.MaxDays, total)
	}
	return nil
}

// IssuerUpdate grants, changes or withdraws the issuer right; nil fields stay.
type IssuerUpdate struct {
	Issuer        *bool
	AllowedMonths *[]int
	MaxDays       *int64
}

func (u *IssuerUpdate) empty() bool {
	return u == nil || (u.Issuer == nil && u.AllowedMonths == nil && u.MaxDays == nil)
}

// applyIssuer changes c's issuer right. Only the vendor may: the right is
// what lets a customer mint licenses the vendor bills it for.
func (o *op) applyIssuer(a Actor, c *Customer, u *IssuerUpdate) error {
	if err := needRole(a, RoleAdmin); err != nil {
		return err
	}
	if !a.system && a.CustomerID != o.lg.RootID() {
		return fmt.Errorf("%w: only the vendor grants, changes or withdraws the issuer right", ErrForbidden)
	}
	if c.ID == o.lg.RootID() {
		return invalid("the vendor root is always an issuer, without limits")
	}
	if u.Issuer != nil {
		c.Issuer = *u.Issuer
	}
	if u.AllowedMonths != nil {
		c.IssuerLimits.AllowedMonths = slices.Clone(*u.AllowedMonths)
	}
	if u.MaxDays != nil {
		c.IssuerLimits.MaxDays = *u.MaxDays
	}
	if !c.Issuer {
		if u.AllowedMonths != nil || u.MaxDays != nil {
			return invalid("limits apply to issuers only: grant the right with issuer=true")
		}
		c.IssuerLimits = IssuerLimits{}
	}
	return c.IssuerLimits.normalize()
}

// issuer returns the customer whose issuer right a's minting uses: the
// actor's customer, which must be the vendor root or hold the right. The
// system acts as the vendor.
func (o *op) issuer(a Actor) (*Customer, error) {
	id := a.CustomerID
	if a.system {
		id = o.lg.RootID()
	}
	c, err := o.customer(id)
	if err != nil {
		return nil, err
	}
	if c.ID != o.lg.RootID() && !c.Issuer {
		return nil, fmt.Errorf("%w: customer %s may not create licenses or add days; only the vendor grants that right (as the vendor: customer set %s --issuer=true)",
			ErrNotIssuer, c.ID, c.ID)
	}
	return c, nil
}

// limitsOf returns the limits that bind issuer (none for the vendor).
func (o *op) limitsOf(issuer *Customer) IssuerLimits {
	if issuer.ID == o.lg.RootID() {
		return IssuerLimits{}
	}
	return issuer.IssuerLimits
}

// origin returns the highest customer l may be returned to. A license
// recorded before origins existed came from the issuing chain, which could
// reach the vendor: it keeps the rule it was created under.
func (o *op) origin(l *License) string {
	if l.Origin == "" {
		return o.lg.RootID()
	}
	return l.Origin
}

// cameDownTo reports whether l came down to at least the level of to: to
// is l's origin or below it. A return to a customer above the origin would
// move up what was created below it.
func (o *op) cameDownTo(l *License, to *Customer) error {
	org := o.origin(l)
	if to.ID == org || slices.Contains(to.Path, org) {
		return nil
	}
	return fmt.Errorf("%w: license %s came down from %s and may be returned no higher; it cannot go to %s",
		ErrAboveOrigin, l.ID, org, to.ID)
}

// meet returns the deepest common ancestor-or-self of customers x and y:
// the new origin of a license that moves across the tree (transfer, move),
// so that moving it sideways never lifts what it may later be returned to.
func (o *op) meet(x, y string) (string, error) {
	cx, err := o.customer(x)
	if err != nil {
		return "", err
	}
	cy, err := o.customer(y)
	if err != nil {
		return "", err
	}
	px := append(slices.Clone(cx.Path), cx.ID)
	py := append(slices.Clone(cy.Path), cy.ID)
	out := ""
	for i := 0; i < len(px) && i < len(py) && px[i] == py[i]; i++ {
		out = px[i]
	}
	if out == "" {
		return o.lg.RootID(), nil
	}
	return out, nil
}
