package ledger

import (
	"fmt"
	"slices"

	"github.com/tollgate-iot/tollgate/server/internal/store"
)

// Who may do what (docs/design.md#actors, docs/server.md "Authorization"):
//
//   - see: the customer is the actor's own or a descendant of it.
//   - manage: see, and either it is the actor's own customer or every
//     customer from it up to (not including) the actor's has
//     allow_superior_manage on. Bind, unbind, lock, sell, return,
//     transfer, renew, descriptions, devices and users need it.
//   - issue: the actor's customer is a strict ancestor (the issuing chain),
//     or the vendor root. Creating licenses, suspending, resuming, adding
//     days, deleting or moving never-activated licenses, the distributor
//     description need it; allow_superior_manage does not limit it because
//     none of these operate a customer's licenses on its behalf.
//
// An object the actor cannot see is reported as not found.

func (o *op) customer(id string) (*Customer, error) {
	if c, ok := o.customers[id]; ok {
		return c, nil
	}
	var c Customer
	if err := o.x.GetJSON(store.CustomerKey(id), &c); err != nil {
		return nil, mapNotFound(err, "customer", id)
	}
	o.customers[id] = &c
	return &c, nil
}

func (o *op) sees(a Actor, c *Customer) bool {
	return a.system || c.ID == a.CustomerID || slices.Contains(c.Path, a.CustomerID)
}

// visibleCustomer loads a customer the actor may see.
func (o *op) visibleCustomer(a Actor, id string) (*Customer, error) {
	c, err := o.customer(id)
	if err != nil {
		return nil, err
	}
	if !o.sees(a, c) {
		return nil, notFound("customer", id)
	}
	return c, nil
}

func needRole(a Actor, r Role) error {
	rank := map[Role]int{RoleViewer: 0, RoleOperator: 1, RoleAdmin: 2}
	if rank[a.Role] < rank[r] {
		return fmt.Errorf("%w: role %s may not do this (needs %s); ask an %s of your customer", ErrForbidden, a.Role, r, r)
	}
	return nil
}

// canManage reports whether a may operate on c's objects with role r.
func (o *op) canManage(a Actor, c *Customer, r Role) error {
	if !o.sees(a, c) {
		return notFound("customer", c.ID)
	}
	if err := needRole(a, r); err != nil {
		return err
	}
	if a.system || c.ID == a.CustomerID {
		return nil
	}
	i := slices.Index(c.Path, a.CustomerID)
	chain := append(slices.Clone(c.Path[i+1:]), c.ID)
	for _, id := range chain {
		link, err := o.customer(id)
		if err != nil {
			return err
		}
		if !link.AllowSuperiorManage {
			return fmt.Errorf("%w: customer %s manages its own customers, users, devices and licenses; an admin of %s may do this, or let its superiors do it with tollgatectl customer set %s --allow-superior-manage=true", ErrForbidden, id, id, id)
		}
	}
	return nil
}

// canIssue reports whether a is in c's issuing chain (or the vendor) and an admin.
func (o *op) canIssue(a Actor, c *Customer) error {
	if !o.sees(a, c) {
		return notFound("customer", c.ID)
	}
	if err := needRole(a, RoleAdmin); err != nil {
		return err
	}
	if a.system || a.CustomerID == o.lg.RootID() || slices.Contains(c.Path, a.CustomerID) {
		return nil
	}
	return fmt.Errorf("%w: only the issuing chain above customer %s may do this; ask the vendor or the distributor that sold to %s", ErrForbidden, c.ID, c.ID)
}

// canManageOrIssue allows either (renew switch, blacklist).
func (o *op) canManageOrIssue(a Actor, c *Customer, r Role) error {
	err := o.canManage(a, c, r)
	if err == nil {
		return nil
	}
	if o.canIssue(a, c) == nil {
		return nil
	}
	return err
}

// isIssuerOf reports whether a may read issuer-only fields of c's objects
// (distributor description): a strict ancestor or the vendor.
func (o *op) isIssuerOf(a Actor, c *Customer) bool {
	return a.system || a.CustomerID == o.lg.RootID() || slices.Contains(c.Path, a.CustomerID)
}
