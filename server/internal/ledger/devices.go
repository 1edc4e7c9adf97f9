package ledger

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/ident"
	"github.com/tollgate-iot/tollgate/shared/limits"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// DeviceInput creates a device.
type DeviceInput struct {
	ID, CustomerID, Model, PublicKey, GatewayID, Location string
}

// CreateDevice registers a device of a customer the actor manages. Its
// public key is its identity: a key already used by another device is
// refused. A child device must fit under the max_children of every license
// its gateway holds, and starts the gateway's capacity licenses that wait
// for this many children.
func (lg *Ledger) CreateDevice(ctx context.Context, a Actor, in DeviceInput) (*Device, error) {
	if err := ident.CheckID("device_id", in.ID); err != nil {
		return nil, invalid("%v", err)
	}
	if err := ident.CheckModel(in.Model); err != nil {
		return nil, invalid("%v", err)
	}
	pub, err := token.ParsePublicKey(in.PublicKey)
	if err != nil {
		return nil, invalid("public_key: %v", err)
	}
	if len(in.Location) > MaxLocationLen {
		return nil, invalid("location is at most %d bytes", MaxLocationLen)
	}
	if in.CustomerID == "" {
		in.CustomerID = a.CustomerID
	}
	var out Device
	err = lg.update(func(o *op) error {
		c, err := o.visibleCustomer(a, in.CustomerID)
		if err != nil {
			return err
		}
		d, err := o.createDevice(a, c, in, token.Fingerprint(pub))
		if d != nil {
			out = *d
		}
		return err
	})
	return &out, err
}

// createDevice registers a device of c (the caller checked in's fields);
// fp is the fingerprint of its public key.
func (o *op) createDevice(a Actor, c *Customer, in DeviceInput, fp string) (*Device, error) {
	if err := o.canManage(a, c, RoleAdmin); err != nil {
		return nil, err
	}
	if err := o.checkNewDevice(c, in, fp); err != nil {
		return nil, err
	}
	gwReach, gwLicenses, err := o.addChild(in.GatewayID)
	if err != nil {
		return nil, err
	}
	d := &Device{ID: in.ID, CustomerID: c.ID, Model: in.Model, PublicKey: in.PublicKey, KeyFingerprint: fp,
		GatewayID: in.GatewayID, Location: in.Location, CreatedAt: o.now}
	if err := o.putNewDevice(d); err != nil {
		return nil, err
	}
	if err := o.audit(a, "device.create", "device", d.ID, c.ID, nil, d); err != nil {
		return nil, err
	}
	return d, o.startReachedOn(a, gwLicenses, gwReach)
}

// checkNewDevice refuses an id or key already in use and a bad gateway.
func (o *op) checkNewDevice(c *Customer, in DeviceInput, fp string) error {
	if ok, err := o.x.Has(store.DeviceKey(in.ID)); err != nil || ok {
		if ok {
			return fmt.Errorf("%w: device %s", ErrExists, in.ID)
		}
		return err
	}
	if ok, err := o.x.Has(store.DeviceFingerprintKey(fp)); err != nil || ok {
		if ok {
			return fmt.Errorf("%w: another device has this public key", ErrExists)
		}
		return err
	}
	return o.checkGateway(in.GatewayID, c.ID)
}

// checkGateway refuses a parent gateway of another customer or one that is
// itself a child device (one level of relaying).
func (o *op) checkGateway(id, customerID string) error {
	if id == "" {
		return nil
	}
	gw, err := o.device(id)
	if err != nil {
		return err
	}
	if gw.CustomerID != customerID { // another customer's device: as if it did not exist
		return notFound("gateway", id)
	}
	if gw.GatewayID != "" {
		return invalid("gateway %s is itself a child device", gw.ID)
	}
	n, err := o.countUpTo(store.GatewayChildPrefix(id), limits.MaxGatewayChildren)
	if err != nil {
		return err
	}
	if n >= limits.MaxGatewayChildren {
		return fmt.Errorf("%w: gateway %s already serves %d child devices, the most one agent relays (put further devices under another gateway)",
			ErrCapacity, id, n)
	}
	return nil
}

// countUpTo counts the keys under prefix, stopping at max.
func (o *op) countUpTo(prefix []byte, max int) (int, error) {
	n := 0
	err := o.x.Scan(prefix, nil, false, func(_, _ []byte) (bool, error) {
		n++
		return n < max, nil
	})
	return n, err
}

func (o *op) putNewDevice(d *Device) error {
	if err := o.x.PutJSON(store.DeviceKey(d.ID), d); err != nil {
		return err
	}
	if err := o.x.Put(store.DeviceByCustomerKey(d.CustomerID, d.ID), nil); err != nil {
		return err
	}
	if d.GatewayID != "" {
		if err := o.x.Put(store.GatewayChildKey(d.GatewayID, d.ID), nil); err != nil {
			return err
		}
	}
	return o.x.Put(store.DeviceFingerprintKey(d.KeyFingerprint), []byte(d.ID))
}

func (o *op) device(id string) (*Device, error) {
	var d Device
	if err := o.x.GetJSON(store.DeviceKey(id), &d); err != nil {
		return nil, mapNotFound(err, "device", id)
	}
	return &d, nil
}

// visibleDevice loads a device the actor may see, with its owner.
func (o *op) visibleDevice(a Actor, id string) (*Device, error) {
	d, err := o.device(id)
	if err != nil {
		return nil, err
	}
	c, err := o.customer(d.CustomerID)
	if err != nil {
		return nil, err
	}
	if !o.sees(a, c) {
		return nil, notFound("device", id)
	}
	return d, nil
}

// GetDevice returns a device the actor may see.
func (lg *Ledger) GetDevice(ctx context.Context, a Actor, id string) (*Device, error) {
	var out *Device
	err := lg.view(func(o *op) (err error) {
		out, err = o.visibleDevice(a, id)
		return err
	})
	return out, err
}

// ListDevices returns the devices of one visible customer, or of the
// actor's whole subtree when customerID is empty, by customer then id.
func (lg *Ledger) ListDevices(ctx context.Context, a Actor, customerID, cursor string, limit int) ([]Device, string, error) {
	limit = PageLimit(limit)
	var out []Device
	var next string
	err := lg.view(func(o *op) error {
		prefixes, err := o.deviceSources(a, customerID)
		if err != nil {
			return err
		}
		for _, p := range prefixes {
			var after []byte
			switch {
			case cursor == "":
			case bytes.HasPrefix([]byte(cursor), p):
				after = []byte(cursor)
			case bytes.Compare(p, []byte(cursor)) < 0:
				continue // a customer wholly before the cursor
			}
			err := o.x.Scan(p, after, false, func(k, _ []byte) (bool, error) {
				if len(out) == limit {
					last := out[len(out)-1]
					next = string(store.DeviceByCustomerKey(last.CustomerID, last.ID))
					return false, nil
				}
				d, err := o.device(store.LastPart(k))
				if err != nil {
					return false, err
				}
				out = append(out, *d)
				return true, nil
			})
			if err != nil || next != "" {
				return err
			}
		}
		return nil
	})
	return out, next, err
}

// deviceSources returns the device index prefixes to scan, in key order.
func (o *op) deviceSources(a Actor, customerID string) ([][]byte, error) {
	if customerID != "" {
		if _, err := o.visibleCustomer(a, customerID); err != nil {
			return nil, err
		}
		return [][]byte{store.DeviceByCustomerPrefix(customerID)}, nil
	}
	ids, err := o.subtree(a.CustomerID)
	if err != nil {
		return nil, err
	}
	out := make([][]byte, len(ids))
	for i, id := range ids {
		out[i] = store.DeviceByCustomerPrefix(id)
	}
	slices.SortFunc(out, bytes.Compare)
	return out, nil
}

// SetBlacklist blacklists or clears a device. Admins of the device's owner
// and of its issuing chain may do either: a distributor must be able to
// stop a device and to clear it after adding days.
func (lg *Ledger) SetBlacklist(ctx context.Context, a Actor, id string, on bool, reason string) (*Device, error) {
	if len(reason) > MaxReasonLen {
		return nil, invalid("reason is at most %d bytes", MaxReasonLen)
	}
	var out Device
	err := lg.update(func(o *op) error {
		d, err := o.visibleDevice(a, id)
		if err != nil {
			return err
		}
		c, err := o.customer(d.CustomerID)
		if err != nil {
			return err
		}
		if err := o.canManageOrIssue(a, c, RoleAdmin); err != nil {
			return err
		}
		action := "device.unblacklist"
		if on {
			action = "device.blacklist"
		}
		if err := o.setBlacklist(a, d, on, reason, action); err != nil {
			return err
		}
		out = *d
		return nil
	})
	return &out, err
}

func (o *op) setBlacklist(a Actor, d *Device, on bool, reason, action string) error {
	before := *d
	d.Blacklisted, d.BlacklistReason = on, reason
	if !on {
		d.BlacklistReason = ""
	}
	if err := o.x.PutJSON(store.DeviceKey(d.ID), d); err != nil {
		return err
	}
	if err := o.putDeviceStats(&before, d); err != nil {
		return err
	}
	var err error
	if on {
		err = o.x.Put(store.BlacklistKey(d.ID), nil)
	} else {
		err = o.x.Delete(store.BlacklistKey(d.ID))
	}
	if err != nil {
		return err
	}
	if before.Blacklisted != on {
		o.rlDirty = true
		// A gateway relays its children: it is cut off too, so that it
		// reconnects with a grant that leaves a blacklisted child out.
		for _, id := range []string{d.ID, d.GatewayID} {
			if err := o.affect(id, on); err != nil {
				return err
			}
		}
		if err := o.emitBlacklist(d, on); err != nil {
			return err
		}
	}
	return o.audit(a, action, "device", d.ID, d.CustomerID, &before, d)
}
