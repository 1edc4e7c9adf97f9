package ledger

// docs/design.md#components: the broker disconnects a device the moment it is revoked or
// blacklisted, and online agents get revocations pushed. The ledger does
// not know the broker: after each commit it tells an Enforcer (set by
// serve) which devices to cut off and which to send the new list to.

// DeviceRef names a device and the customer whose topics it uses.
type DeviceRef struct {
	DeviceID   string
	CustomerID string
}

// Enforcement is what one committed change means for connected devices.
type Enforcement struct {
	// Disconnect are devices that may no longer send under their current
	// connection: a license of theirs was revoked or suspended, they were
	// blacklisted, or (for a gateway) one of their children was.
	Disconnect []DeviceRef
	// Notify are devices whose revocation-list entries changed (they
	// include Disconnect): they should receive their list
	// (PushRevocationList) at once.
	Notify []DeviceRef
	// RevocationSeq is the revocation-list sequence the change started; 0
	// if it changed no entry.
	RevocationSeq int64
	// Tokens are devices for which the change signed a new token version:
	// they should be pushed their current tokens (PushDocument).
	Tokens []DeviceRef
}

// Enforcer acts on committed changes. Enforce is called after the commit,
// outside the ledger's lock, once per change that affects devices; it must
// not block for long (it runs on the caller's request).
type Enforcer interface {
	Enforce(e Enforcement)
}

// SetEnforcer installs e (nil removes it).
func (lg *Ledger) SetEnforcer(e Enforcer) {
	lg.mu.Lock()
	defer lg.mu.Unlock()
	lg.enforcer = e
}

// cutOff records that a device must be disconnected and told.
func (o *op) cutOff(deviceID string) error { return o.affect(deviceID, true) }

// tell records that a device must be sent the new revocation list.
func (o *op) tell(deviceID string) error { return o.affect(deviceID, false) }

func (o *op) affect(deviceID string, disconnect bool) error {
	if deviceID == "" {
		return nil
	}
	d, err := o.device(deviceID)
	if err != nil {
		return err
	}
	ref := DeviceRef{DeviceID: d.ID, CustomerID: d.CustomerID}
	if disconnect && !containsRef(o.enf.Disconnect, ref) {
		o.enf.Disconnect = append(o.enf.Disconnect, ref)
	}
	if !containsRef(o.enf.Notify, ref) {
		o.enf.Notify = append(o.enf.Notify, ref)
	}
	return nil
}

func containsRef(refs []DeviceRef, r DeviceRef) bool {
	for _, x := range refs {
		if x == r {
			return true
		}
	}
	return false
}
