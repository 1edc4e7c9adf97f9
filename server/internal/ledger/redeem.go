package ledger

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/airgap"
	"github.com/tollgate-iot/tollgate/shared/ident"
	"github.com/tollgate-iot/tollgate/shared/redeem"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// Refusals of an online redemption (Redeem); each applies nothing.
var (
	// ErrUnknownCode reports a serial or enrollment code the server does
	// not hold (or a revoked enrollment code): a typo or a guess.
	ErrUnknownCode = errors.New("unknown license serial or enrollment code")
	// ErrDeviceCustomerMismatch reports a registered device that belongs
	// to another customer than the license or enrollment code.
	ErrDeviceCustomerMismatch = errors.New("device is registered under another customer")
	// ErrNoLicenseAvailable reports an enrollment code with a license pool
	// whose customer has no unused license that fits the device.
	ErrNoLicenseAvailable = errors.New("no unused license of the customer fits the device")
)

// Redemption methods.
const (
	RedeemSerial     = "serial"
	RedeemEnrollment = "enrollment"
)

// RedeemResult is what an online redemption did, and the answer for the
// device (unsigned, without a nonce: the caller echoes the request's and
// signs it like a sync answer).
type RedeemResult struct {
	Method        string
	Device        Device
	DeviceCreated bool
	// License is the license bound (or already bound, on a retry); nil
	// when an enrollment code without a license pool only registered.
	License *LicenseView
	// EnrollmentID is the enrollment code used, if any.
	EnrollmentID string
	// Retry reports that this device had redeemed this code before: the
	// answer is the same, nothing was bound or counted again.
	Retry    bool
	Response *syncproto.Response
}

// redeemAudit is the audit record of one redemption (device.redeem).
type redeemAudit struct {
	Method        string `json:"method"`
	Serial        string `json:"serial,omitempty"`
	EnrollmentID  string `json:"enrollment_id,omitempty"`
	LicenseID     string `json:"license_id,omitempty"`
	DeviceKey     string `json:"device_key"`
	DeviceCreated bool   `json:"device_created"`
	Retry         bool   `json:"retry"`
	Source        string `json:"source"`
	RequestAt     int64  `json:"request_created_at"`
	// Refused is why a redemption was refused (device.redeem_refused).
	Refused string `json:"refused,omitempty"`
}

// Redeem is online activation (docs/server.md "Online activation"): a
// device, proven by its signed request, presents a license serial or an
// enrollment code. A serial binds that license — unused, or already bound
// to this device (a retry gets the same answer) — registering the device
// under the license's customer if it is new. An enrollment code registers
// the device under its customer, counts a use, and with a license pool
// binds an unused license that fits. All in one transaction: a refusal
// applies nothing. source (the client address) goes to the audit log.
func (lg *Ledger) Redeem(ctx context.Context, req *airgap.ActivationRequest, code, source string) (*RedeemResult, error) {
	return lg.redeem(req, code, source, "", 0)
}

// RedeemOnline is Redeem for a signed online activation request: its nonce
// is claimed in the redemption's transaction until the given time (the end
// of the request's freshness window), so that the same request sent again
// to any replica is refused with ErrReplay (nonce.go). A refused
// redemption claims nothing.
func (lg *Ledger) RedeemOnline(ctx context.Context, req *airgap.ActivationRequest, code, source, nonce string, until time.Time) (*RedeemResult, error) {
	if err := checkNonce(nonce); err != nil {
		return nil, err
	}
	return lg.redeem(req, code, source, nonce, until.Unix())
}

func (lg *Ledger) redeem(req *airgap.ActivationRequest, code, source, nonce string, until int64) (*RedeemResult, error) {
	if err := req.Validate(); err != nil {
		return nil, invalid("activation request: %v", err)
	}
	code = redeem.NormalizeCode(code)
	if err := redeem.CheckCode(code); err != nil {
		return nil, invalid("%v", err)
	}
	pub, err := token.ParsePublicKey(req.PublicKey)
	if err != nil {
		return nil, invalid("public_key: %v", err)
	}
	fp := token.Fingerprint(pub)
	out := &RedeemResult{Method: RedeemSerial}
	var acked int64
	var missing []syncproto.SeqRange
	rec := redeemAudit{DeviceKey: fp, Source: source, RequestAt: req.CreatedAt}
	err = lg.update(func(o *op) error {
		var d *Device
		var err error
		if redeem.IsEnrollmentCode(code) {
			out.Method = RedeemEnrollment
			d, err = o.redeemEnrollment(req, code, fp, out)
		} else {
			rec.Serial = code
			d, err = o.redeemSerial(req, code, fp, out)
		}
		if err != nil {
			return err
		}
		out.Device = *d
		rec.Method, rec.EnrollmentID, rec.DeviceCreated, rec.Retry = out.Method, out.EnrollmentID, out.DeviceCreated, out.Retry
		if out.License != nil {
			rec.LicenseID = out.License.ID
		}
		st, err := o.syncState(d.ID)
		if err != nil {
			return err
		}
		if until != 0 {
			if err := st.claim(nonce, until, o.now); err != nil {
				return fmt.Errorf("%w: nonce already seen from device %s", err, d.ID)
			}
			if err := o.x.PutJSON(store.SyncStateKey(d.ID), &st); err != nil {
				return err
			}
		}
		if acked, _, missing, err = o.ackState(d.ID, st.AckedSeq); err != nil {
			return err
		}
		return o.audit(deviceActor(d.ID, d.CustomerID), "device.redeem", "device", d.ID, d.CustomerID, nil, &rec)
	})
	if err != nil {
		lg.auditRefusal(req.DeviceID, out, &rec, err)
		return nil, err
	}
	if out.Response, err = lg.syncAnswer(out.Device.ID, acked, missing); err != nil {
		return nil, err
	}
	return out, nil
}

// redeemRefusals are the refusals of a code that was found: they are
// audited for its customer, who sees who tried its serial or code and why.
// A code not found is audited nowhere (no customer to show it to): the API
// logs and counts it, and its rate limits bound it.
var redeemRefusals = []error{ErrBound, ErrNotUnused, ErrLocked, ErrModelMismatch, ErrExpired, ErrSuspended, ErrRevoked,
	ErrTransferred, ErrDeviceKeyMismatch, ErrDeviceCustomerMismatch, ErrNoLicenseAvailable, ErrEnrollmentExpired,
	ErrEnrollmentRevoked, ErrEnrollmentUsedUp, ErrExists, ErrInvalid, ErrCapacity}

// auditRefusal records a refused redemption of a found code
// (device.redeem_refused) in a transaction of its own, the redemption's
// having applied nothing.
func (lg *Ledger) auditRefusal(deviceID string, out *RedeemResult, rec *redeemAudit, cause error) {
	if !slices.ContainsFunc(redeemRefusals, func(e error) bool { return errors.Is(cause, e) }) {
		return
	}
	rec.Method, rec.EnrollmentID, rec.Refused = out.Method, out.EnrollmentID, cause.Error()
	err := lg.update(func(o *op) error {
		var customerID string
		switch {
		case out.EnrollmentID != "":
			e, err := o.enrollment(out.EnrollmentID)
			if err != nil {
				return err
			}
			customerID = e.CustomerID
		case rec.Serial != "":
			l, err := o.license(rec.Serial)
			if err != nil {
				return err
			}
			customerID, rec.LicenseID = l.CustomerID, l.ID
		default:
			return nil
		}
		return o.audit(deviceActor(deviceID, customerID), "device.redeem_refused", "device", deviceID, customerID, nil, rec)
	})
	if err != nil {
		lg.log.Warn("audit of a refused redemption failed", "device_id", deviceID, "error", err)
	}
}

// deviceActor is the actor of a redemption: the device itself, acting for
// the customer the code belongs to, with just the rights the code gives
// (the callers only register and bind).
func deviceActor(deviceID, customerID string) Actor {
	return Actor{UserID: "device:" + deviceID, CustomerID: customerID, Role: RoleAdmin, system: true}
}

// redeemSerial binds the license a serial names to the requesting device.
func (o *op) redeemSerial(req *airgap.ActivationRequest, serial, fp string, out *RedeemResult) (*Device, error) {
	if isUUID(serial) { // a license id is not a code a person is handed
		return nil, fmt.Errorf("%w: want a serial, not a license id", ErrUnknownCode)
	}
	l, err := o.license(serial)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("%w: serial %s", ErrUnknownCode, serial)
	}
	if err != nil {
		return nil, err
	}
	owner, err := o.customer(l.CustomerID)
	if err != nil {
		return nil, err
	}
	out.Retry = l.DeviceID == req.DeviceID
	if err := l.usable(o.now); err != nil {
		return nil, err
	}
	switch {
	case l.DeviceID != "" && !out.Retry:
		return nil, fmt.Errorf("%w: serial %s is bound to another device", ErrBound, serial)
	case !out.Retry && l.Status(o.now) != StatusUnused:
		return nil, fmt.Errorf("%w: serial %s is %s", ErrNotUnused, serial, l.Status(o.now))
	case l.Locked:
		return nil, fmt.Errorf("%w: serial %s", ErrLocked, serial)
	case !ident.ModelMatches(l.Models, req.Model):
		return nil, fmt.Errorf("%w: model %s, serial %s takes %v", ErrModelMismatch, req.Model, serial, l.Models)
	}
	act := deviceActor(req.DeviceID, owner.ID)
	d, err := o.redeemDevice(act, owner, req, fp, out)
	if err != nil {
		return nil, err
	}
	var br BindResult
	if err := o.bind(act, l, owner, d, false, &br); err != nil {
		return nil, err
	}
	out.License = &br.License
	return d, nil
}

// redeemEnrollment registers the requesting device under an enrollment
// code's customer, counts the use and, with a license pool, binds a license.
func (o *op) redeemEnrollment(req *airgap.ActivationRequest, code, fp string, out *RedeemResult) (*Device, error) {
	e, err := o.enrollmentByCode(code)
	if err != nil {
		return nil, err
	}
	out.EnrollmentID = e.ID
	again, err := o.x.Has(store.EnrolledDeviceKey(e.ID, req.DeviceID))
	if err != nil {
		return nil, err
	}
	if err := o.checkEnrollable(e, req.Model, again); err != nil {
		return nil, err
	}
	c, err := o.customer(e.CustomerID)
	if err != nil {
		return nil, err
	}
	act := deviceActor(req.DeviceID, c.ID)
	d, err := o.redeemDevice(act, c, req, fp, out)
	if err != nil {
		return nil, err
	}
	out.Retry = again
	if !again {
		before := e.view()
		e.Uses++
		if err := o.putEnrollment(e); err != nil {
			return nil, err
		}
		if err := o.x.Put(store.EnrolledDeviceKey(e.ID, d.ID), nil); err != nil {
			return nil, err
		}
		after := e.view()
		if err := o.audit(act, "enrollment.use", "enrollment", e.ID, e.CustomerID, &before, &after); err != nil {
			return nil, err
		}
	}
	if !e.LicensePool {
		return d, nil
	}
	held, err := o.usableLicenseOn(d.ID)
	if err != nil || held != nil { // a retry, or a device licensed already: nothing more to bind
		if held != nil {
			v := o.licenseView(act, held)
			out.License = &v
		}
		return d, err
	}
	l, err := o.poolLicense(c.ID, d)
	if err != nil {
		return nil, err
	}
	var br BindResult
	if err := o.bind(act, l, c, d, false, &br); err != nil {
		return nil, err
	}
	out.License = &br.License
	return d, nil
}

// redeemDevice returns the requesting device: the registered one, whose
// key and customer must be the request's and c, or a new device of c.
func (o *op) redeemDevice(act Actor, c *Customer, req *airgap.ActivationRequest, fp string, out *RedeemResult) (*Device, error) {
	d, err := o.device(req.DeviceID)
	if errors.Is(err, ErrNotFound) {
		in := DeviceInput{ID: req.DeviceID, CustomerID: c.ID, Model: req.Model, PublicKey: req.PublicKey}
		d, err = o.createDevice(act, c, in, fp)
		out.DeviceCreated = err == nil
		return d, err
	}
	if err != nil {
		return nil, err
	}
	if d.KeyFingerprint != fp {
		return nil, fmt.Errorf("%w: device %s is registered with key %s, the request carries %s",
			ErrDeviceKeyMismatch, d.ID, d.KeyFingerprint, fp)
	}
	if d.CustomerID != c.ID {
		return nil, fmt.Errorf("%w: device %s does not belong to the customer of this code", ErrDeviceCustomerMismatch, d.ID)
	}
	if d.Model != req.Model {
		return nil, invalid("device %s is registered as model %s, the request says %s", d.ID, d.Model, req.Model)
	}
	return d, nil
}

// usableLicenseOn returns a license bound to the device that is not
// expired, suspended or revoked, or nil.
func (o *op) usableLicenseOn(deviceID string) (*License, error) {
	var found *License
	err := o.x.Scan(store.LicenseByDevicePrefix(deviceID), nil, false, func(k, _ []byte) (bool, error) {
		l, err := o.license(store.LastPart(k))
		if err != nil {
			return false, err
		}
		if l.usable(o.now) == nil {
			found = l
			return false, nil
		}
		return true, nil
	})
	return found, err
}

// poolLicense picks the license an enrolling device takes from its
// customer's own unused licenses: one that is not locked, waits for no
// capacity start and fits the model; paid licenses before trials (an
// operator who hands out a code for a fleet expects the licenses bought
// for it used, not the evaluation trial), oldest first, then by serial.
func (o *op) poolLicense(customerID string, d *Device) (*License, error) {
	var cands []*License
	err := o.x.Scan(store.LicenseByCustomerPrefix(customerID), nil, false, func(k, _ []byte) (bool, error) {
		l, err := o.license(store.LastPart(k))
		if err != nil {
			return false, err
		}
		if l.Status(o.now) == StatusUnused && !l.Locked && l.StartAtChildren == 0 && ident.ModelMatches(l.Models, d.Model) &&
			o.checkCapacity(l, d) == nil {
			cands = append(cands, l)
		}
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	if len(cands) == 0 {
		return nil, fmt.Errorf("%w: customer %s, model %s", ErrNoLicenseAvailable, customerID, d.Model)
	}
	trial := func(l *License) int {
		if l.Type == token.TypeTrial {
			return 1
		}
		return 0
	}
	return slices.MinFunc(cands, func(a, b *License) int {
		return cmp.Or(cmp.Compare(trial(a), trial(b)), a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.Serial, b.Serial))
	}), nil
}
