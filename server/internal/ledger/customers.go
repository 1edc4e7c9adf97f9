package ledger

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/ident"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// Bootstrap initializes an empty store: the vendor root customer and its
// first admin user. It returns the root, the user and the user's API key,
// which is shown this once and stored only as a hash.
func (lg *Ledger) Bootstrap(ctx context.Context, name, email string) (*Customer, *User, string, error) {
	lg.mu.Lock()
	defer lg.mu.Unlock()
	if lg.RootID() != "" {
		return nil, nil, "", ErrAlreadyInitialized
	}
	if name == "" {
		name = "vendor"
	}
	if email == "" {
		email = "admin@localhost"
	}
	root := &Customer{ID: "root", Name: name, Email: email, Issuer: true, IssuerLimits: IssuerLimits{AllowedMonths: []int{}}}
	var user *User
	var key string
	err := lg.db.Update(func(x *store.Txn) error {
		o := lg.newOp(x)
		if ok, err := x.Has(store.MetaKey("root")); err != nil || ok {
			if ok {
				return ErrAlreadyInitialized
			}
			return err
		}
		root.CreatedAt = o.now
		if err := x.PutJSON(store.CustomerKey(root.ID), root); err != nil {
			return err
		}
		if err := x.Put(store.MetaKey("root"), []byte(root.ID)); err != nil {
			return err
		}
		var err error
		if user, key, err = o.putNewUser(root.ID, email, RoleAdmin); err != nil {
			return err
		}
		sys := SystemActor()
		if err := o.audit(sys, "init", "customer", root.ID, root.ID, nil, root); err != nil {
			return err
		}
		if err := o.audit(sys, "user.create", "user", user.ID, root.ID, nil, user); err != nil {
			return err
		}
		_, err = o.advanceRevocationHead() // agents can fetch a list from the first minute
		return err
	})
	if err != nil {
		return nil, nil, "", err
	}
	lg.setRoot(root.ID)
	return root, user, key, nil
}

// CustomerInput creates a customer.
type CustomerInput struct {
	ID       string // optional; generated when empty
	Name     string
	ParentID string // optional; the actor's customer when empty
	Email    string
	Address  string
	VAT      string
}

// CreateCustomer adds a customer under a parent the actor manages, with its
// one automatic trial license, in one transaction.
func (lg *Ledger) CreateCustomer(ctx context.Context, a Actor, in CustomerInput) (*Customer, error) {
	if strings.TrimSpace(in.Name) == "" {
		return nil, fmt.Errorf("%w: name is required", ErrInvalid)
	}
	if in.ID == "" {
		in.ID = "c-" + randHex(6)
	}
	if err := ident.CheckID("customer_id", in.ID); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if in.ParentID == "" {
		in.ParentID = a.CustomerID
	}
	var out Customer
	err := lg.update(func(o *op) error {
		parent, err := o.visibleCustomer(a, in.ParentID)
		if err != nil {
			return err
		}
		if err := o.canManage(a, parent, RoleAdmin); err != nil {
			return err
		}
		if ok, err := o.x.Has(store.CustomerKey(in.ID)); err != nil || ok {
			if ok {
				return fmt.Errorf("%w: customer %s", ErrExists, in.ID)
			}
			return err
		}
		c := &Customer{ID: in.ID, Name: in.Name, ParentID: parent.ID, Path: append(slices.Clone(parent.Path), parent.ID),
			Email: in.Email, Address: in.Address, VAT: in.VAT, CreatedAt: o.now}
		if err := o.x.PutJSON(store.CustomerKey(c.ID), c); err != nil {
			return err
		}
		if err := o.x.Put(store.ChildKey(parent.ID, c.ID), nil); err != nil {
			return err
		}
		o.customers[c.ID] = c
		if err := o.audit(a, "customer.create", "customer", c.ID, c.ID, nil, c); err != nil {
			return err
		}
		if _, err := o.createLicenses(a, trialSpec(c.ID, o.lg.maxOff), mint{origin: c.ID}); err != nil {
			return err
		}
		out = o.customerView(a, c)
		return nil
	})
	return &out, err
}

// trialSpec is the automatic trial of a new customer: any model, no rate
// cap, report mode, so the customer can measure what it will need.
func trialSpec(customerID string, maxOffline time.Duration) LicenseInput {
	off := int64(maxOffline.Seconds())
	return LicenseInput{CustomerID: customerID, Type: token.TypeTrial, Billing: token.BillingTerm,
		Models: []string{"*"}, Enforcement: token.EnforcementReport, Count: 1, MaxOfflineSeconds: &off,
		CustomerDescription: "automatic trial"}
}

// customerView hides the VAT number from everyone but the direct parent.
// The vendor root shows as the issuer it always is.
func (o *op) customerView(a Actor, c *Customer) Customer {
	v := *c
	v.Path = slices.Clone(c.Path)
	v.IssuerLimits.AllowedMonths = slices.Clone(c.IssuerLimits.AllowedMonths)
	if v.IssuerLimits.AllowedMonths == nil {
		v.IssuerLimits.AllowedMonths = []int{}
	}
	if c.ID == o.lg.RootID() {
		v.Issuer = true
	}
	if !a.system && a.CustomerID != c.ParentID {
		v.VAT = ""
	}
	return v
}

// GetCustomer returns a customer the actor may see.
func (lg *Ledger) GetCustomer(ctx context.Context, a Actor, id string) (*Customer, error) {
	var out Customer
	err := lg.view(func(o *op) error {
		c, err := o.visibleCustomer(a, id)
		if err != nil {
			return err
		}
		out = o.customerView(a, c)
		return nil
	})
	return &out, err
}

// subtree returns the ids of id and all its descendants, sorted.
func (o *op) subtree(id string) ([]string, error) {
	out := []string{id}
	for i := 0; i < len(out); i++ {
		err := o.x.Scan(store.ChildPrefix(out[i]), nil, false, func(k, _ []byte) (bool, error) {
			out = append(out, store.LastPart(k))
			return true, nil
		})
		if err != nil {
			return nil, err
		}
	}
	slices.Sort(out)
	return out, nil
}

// ListCustomers returns the customers the actor sees (its subtree), by id,
// after cursor, at most limit; parent filters to one parent's children.
func (lg *Ledger) ListCustomers(ctx context.Context, a Actor, parent, cursor string, limit int) ([]Customer, string, error) {
	var out []Customer
	var next string
	err := lg.view(func(o *op) error {
		ids, err := o.subtree(a.CustomerID)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if id <= cursor {
				continue
			}
			c, err := o.customer(id)
			if err != nil {
				return err
			}
			if parent != "" && c.ParentID != parent {
				continue
			}
			if len(out) == limit {
				next = out[len(out)-1].ID
				break
			}
			out = append(out, o.customerView(a, c))
		}
		return nil
	})
	return out, next, err
}

// CustomerUpdate changes a customer; nil fields stay.
type CustomerUpdate struct {
	Name, Email, Address, VAT *string
	AllowSuperiorManage       *bool
	// Issuer grants, changes or withdraws the issuer right (vendor only).
	Issuer *IssuerUpdate
}

// UpdateCustomer applies u. Only the customer itself may switch
// allow_superior_manage (it is its consent); only its parent may set the VAT
// number; only the vendor may change the issuer right; name, email and
// address need manage rights. A change of the issuer right is audited as
// customer.issuer, anything else as customer.update.
func (lg *Ledger) UpdateCustomer(ctx context.Context, a Actor, id string, u CustomerUpdate) (*Customer, error) {
	var out Customer
	err := lg.update(func(o *op) error {
		c, err := o.visibleCustomer(a, id)
		if err != nil {
			return err
		}
		before := *c
		before.IssuerLimits.AllowedMonths = slices.Clone(c.IssuerLimits.AllowedMonths)
		action := "customer.update"
		if !u.Issuer.empty() {
			if err := o.applyIssuer(a, c, u.Issuer); err != nil {
				return err
			}
			action = "customer.issuer"
		}
		if u.AllowSuperiorManage != nil {
			if err := needRole(a, RoleAdmin); err != nil {
				return err
			}
			if a.CustomerID != c.ID {
				return fmt.Errorf("%w: only customer %s itself may switch allow_superior_manage", ErrForbidden, c.ID)
			}
			c.AllowSuperiorManage = *u.AllowSuperiorManage
		}
		if u.VAT != nil {
			if err := needRole(a, RoleAdmin); err != nil {
				return err
			}
			if a.CustomerID != c.ParentID {
				return fmt.Errorf("%w: only the parent of %s sees and sets its VAT number", ErrForbidden, c.ID)
			}
			c.VAT = *u.VAT
		}
		if u.Name != nil || u.Email != nil || u.Address != nil {
			if err := o.canManage(a, c, RoleAdmin); err != nil {
				return err
			}
			setIf(&c.Name, u.Name)
			setIf(&c.Email, u.Email)
			setIf(&c.Address, u.Address)
		}
		if strings.TrimSpace(c.Name) == "" {
			return fmt.Errorf("%w: name is required", ErrInvalid)
		}
		if err := o.x.PutJSON(store.CustomerKey(c.ID), c); err != nil {
			return err
		}
		if err := o.audit(a, action, "customer", c.ID, c.ID, &before, c); err != nil {
			return err
		}
		out = o.customerView(a, c)
		return nil
	})
	return &out, err
}

func setIf(dst *string, v *string) {
	if v != nil {
		*dst = *v
	}
}
