package ledger

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/ident"
	"github.com/tollgate-iot/tollgate/shared/limits"
	"github.com/tollgate-iot/tollgate/shared/redeem"
)

// Refusals of an enrollment code at redemption (each applies nothing).
var (
	// ErrEnrollmentExpired reports an enrollment code past its expiry.
	ErrEnrollmentExpired = errors.New("enrollment code is expired")
	// ErrEnrollmentRevoked reports a revoked enrollment code.
	ErrEnrollmentRevoked = errors.New("enrollment code is revoked")
	// ErrEnrollmentUsedUp reports an enrollment code whose uses are all taken.
	ErrEnrollmentUsedUp = errors.New("enrollment code has no uses left")
)

// Bounds of enrollment codes.
const (
	// MaxEnrollmentUses caps --uses (0 means no limit).
	MaxEnrollmentUses = 1_000_000
	// MaxEnrollmentLifetime caps --expires-in (0 means no expiry).
	MaxEnrollmentLifetime = 5 * 366 * Day
	// MaxEnrollmentsPerCustomer caps the codes a customer keeps, revoked
	// ones included, so that a listing is one bounded read.
	MaxEnrollmentsPerCustomer = 1000
	// enrollmentHintLen is how much of a code its record shows, so an admin
	// can tell codes apart: the prefix and 4 of its 43 random characters.
	enrollmentHintLen = len(redeem.EnrollmentPrefix) + 4
)

// Enrollment is a customer's enrollment code: devices that present it
// register themselves under the customer (docs/server.md "Online
// activation"). Only the SHA-256 of the code is stored.
type Enrollment struct {
	ID         string `json:"id"`
	CustomerID string `json:"customer_id"`
	// Models limits the devices that may enroll; empty: any model.
	Models []string `json:"models"`
	// MaxUses caps the devices that may enroll; 0: no limit.
	MaxUses int64 `json:"max_uses"`
	// Uses counts the devices that enrolled (a retry by one of them is not
	// another use).
	Uses      int64     `json:"uses"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// LicensePool makes each enrolling device take an unused license of
	// the customer that fits its model; without it the device only registers.
	LicensePool bool      `json:"license_pool"`
	Revoked     bool      `json:"revoked"`
	Hint        string    `json:"hint"`
	CreatedAt   time.Time `json:"created_at"`
	CreatedBy   string    `json:"created_by"`
	CodeHash    string    `json:"code_hash,omitempty"`
}

// view is the record without its code hash.
func (e Enrollment) view() Enrollment {
	e.CodeHash = ""
	return e
}

// EnrollmentInput creates an enrollment code.
type EnrollmentInput struct {
	CustomerID  string
	Models      []string
	MaxUses     int64
	ExpiresIn   time.Duration
	LicensePool bool
}

func (in *EnrollmentInput) check() error {
	if err := ident.CheckID("customer_id", in.CustomerID); err != nil {
		return invalid("%v", err)
	}
	if len(in.Models) > limits.MaxModelPatterns {
		return invalid("models: at most %d patterns", limits.MaxModelPatterns)
	}
	for _, m := range in.Models {
		if err := ident.CheckModelPattern(m); err != nil {
			return invalid("models: %v", err)
		}
	}
	if in.MaxUses < 0 || in.MaxUses > MaxEnrollmentUses {
		return invalid("uses must be 0 (no limit) .. %d", MaxEnrollmentUses)
	}
	if in.ExpiresIn < 0 || in.ExpiresIn > MaxEnrollmentLifetime {
		return invalid("expires_in must be 0 (never) .. %d days", MaxEnrollmentLifetime/Day)
	}
	return nil
}

// newEnrollmentCode returns a random code and the hex SHA-256 that is stored.
func newEnrollmentCode() (code, hash string) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("ledger: crypto/rand failed: " + err.Error())
	}
	code = redeem.EnrollmentPrefix + base64.RawURLEncoding.EncodeToString(b)
	return code, hashEnrollmentCode(code)
}

func hashEnrollmentCode(code string) string {
	sum := sha256.Sum256([]byte(code))
	return hex.EncodeToString(sum[:])
}

// CreateEnrollment makes an enrollment code for a customer the actor
// manages as an admin and returns it with the code, shown this once.
func (lg *Ledger) CreateEnrollment(ctx context.Context, a Actor, in EnrollmentInput) (*Enrollment, string, error) {
	if in.CustomerID == "" {
		in.CustomerID = a.CustomerID
	}
	if err := in.check(); err != nil {
		return nil, "", err
	}
	var out Enrollment
	var code string
	err := lg.update(func(o *op) error {
		c, err := o.visibleCustomer(a, in.CustomerID)
		if err != nil {
			return err
		}
		if err := o.canManage(a, c, RoleAdmin); err != nil {
			return err
		}
		n, err := o.countEnrollments(c.ID)
		if err != nil {
			return err
		}
		if n >= MaxEnrollmentsPerCustomer {
			return invalid("customer %s has %d enrollment codes, at most %d", c.ID, n, MaxEnrollmentsPerCustomer)
		}
		var hash string
		code, hash = newEnrollmentCode()
		e := Enrollment{ID: "e-" + randHex(6), CustomerID: c.ID, Models: slices.Clone(in.Models), MaxUses: in.MaxUses,
			LicensePool: in.LicensePool, Hint: code[:enrollmentHintLen], CreatedAt: o.now, CreatedBy: a.UserID, CodeHash: hash}
		if e.Models == nil {
			e.Models = []string{}
		}
		if in.ExpiresIn > 0 {
			e.ExpiresAt = o.now.Add(in.ExpiresIn)
		}
		if err := o.putEnrollment(&e); err != nil {
			return err
		}
		if err := o.x.Put(store.EnrollmentCodeKey(hash), []byte(e.ID)); err != nil {
			return err
		}
		if err := o.x.Put(store.EnrollmentByCustomerKey(c.ID, e.ID), nil); err != nil {
			return err
		}
		out = e.view()
		return o.audit(a, "enrollment.create", "enrollment", e.ID, c.ID, nil, &out)
	})
	if err != nil {
		return nil, "", err
	}
	return &out, code, nil
}

func (o *op) putEnrollment(e *Enrollment) error { return o.x.PutJSON(store.EnrollmentKey(e.ID), e) }

func (o *op) enrollment(id string) (*Enrollment, error) {
	var e Enrollment
	if err := o.x.GetJSON(store.EnrollmentKey(id), &e); err != nil {
		return nil, mapNotFound(err, "enrollment", id)
	}
	return &e, nil
}

func (o *op) countEnrollments(customerID string) (int, error) {
	n := 0
	err := o.x.Scan(store.EnrollmentByCustomerPrefix(customerID), nil, false, func(_, _ []byte) (bool, error) {
		n++
		return true, nil
	})
	return n, err
}

// ListEnrollments lists the enrollment codes of one visible customer (the
// actor's own when empty), oldest first, without their hashes.
func (lg *Ledger) ListEnrollments(ctx context.Context, a Actor, customerID string) ([]Enrollment, error) {
	if customerID == "" {
		customerID = a.CustomerID
	}
	out := []Enrollment{}
	err := lg.view(func(o *op) error {
		if _, err := o.visibleCustomer(a, customerID); err != nil {
			return err
		}
		return o.x.Scan(store.EnrollmentByCustomerPrefix(customerID), nil, false, func(k, _ []byte) (bool, error) {
			e, err := o.enrollment(store.LastPart(k))
			if err != nil {
				return false, err
			}
			out = append(out, e.view())
			return true, nil
		})
	})
	slices.SortFunc(out, func(x, y Enrollment) int { return cmp.Or(x.CreatedAt.Compare(y.CreatedAt), cmp.Compare(x.ID, y.ID)) })
	return out, err
}

// RevokeEnrollment revokes an enrollment code for good: devices already
// enrolled keep their registration and licenses.
func (lg *Ledger) RevokeEnrollment(ctx context.Context, a Actor, id string) (*Enrollment, error) {
	var out Enrollment
	err := lg.update(func(o *op) error {
		e, err := o.enrollment(id)
		if err != nil {
			return err
		}
		c, err := o.visibleCustomer(a, e.CustomerID)
		if err != nil {
			return notFound("enrollment", id)
		}
		if err := o.canManage(a, c, RoleAdmin); err != nil {
			return err
		}
		before := e.view()
		out = before
		if e.Revoked { // revoked already: nothing changes, nothing is logged
			return nil
		}
		e.Revoked = true
		if err := o.putEnrollment(e); err != nil {
			return err
		}
		if err := o.x.Delete(store.EnrollmentCodeKey(e.CodeHash)); err != nil {
			return err
		}
		out = e.view()
		return o.audit(a, "enrollment.revoke", "enrollment", e.ID, e.CustomerID, &before, &out)
	})
	return &out, err
}

// enrollmentByCode finds the enrollment a code names. A revoked code's
// hash is gone: it is not found, like a code never issued.
func (o *op) enrollmentByCode(code string) (*Enrollment, error) {
	id, err := o.x.Get(store.EnrollmentCodeKey(hashEnrollmentCode(code)))
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: unknown enrollment code", ErrUnknownCode)
	}
	if err != nil {
		return nil, err
	}
	return o.enrollment(string(id))
}

// checkEnrollable refuses a code that is revoked, expired, used up (unless
// the device already enrolled with it) or made for other models.
func (o *op) checkEnrollable(e *Enrollment, model string, again bool) error {
	switch {
	case e.Revoked:
		return fmt.Errorf("%w: %s", ErrEnrollmentRevoked, e.ID)
	case !e.ExpiresAt.IsZero() && !o.now.Before(e.ExpiresAt):
		return fmt.Errorf("%w: %s expired at %s", ErrEnrollmentExpired, e.ID, e.ExpiresAt.Format(time.RFC3339))
	case !again && e.MaxUses > 0 && e.Uses >= e.MaxUses:
		return fmt.Errorf("%w: %s was used %d of %d times", ErrEnrollmentUsedUp, e.ID, e.Uses, e.MaxUses)
	case len(e.Models) > 0 && !ident.ModelMatches(e.Models, model):
		return fmt.Errorf("%w: model %s, enrollment %s takes %v", ErrModelMismatch, model, e.ID, e.Models)
	}
	return nil
}

// Enrollment states, derived like a license's status.
const (
	EnrollmentActive  = "active"
	EnrollmentExpired = "expired"
	EnrollmentUsedUp  = "used_up"
	EnrollmentRevoked = "revoked"
)

// State derives the code's state at now: revoked, expired, used up, or active.
func (e *Enrollment) State(now time.Time) string {
	switch {
	case e.Revoked:
		return EnrollmentRevoked
	case !e.ExpiresAt.IsZero() && !now.Before(e.ExpiresAt):
		return EnrollmentExpired
	case e.MaxUses > 0 && e.Uses >= e.MaxUses:
		return EnrollmentUsedUp
	}
	return EnrollmentActive
}
