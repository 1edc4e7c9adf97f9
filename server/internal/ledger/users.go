package ledger

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/mail"
	"strings"

	"github.com/tollgate-iot/tollgate/server/internal/store"
)

// APIKeyPrefix starts every API key, so that a leaked key is recognizable
// by secret scanners.
const APIKeyPrefix = "tgk_"

// newAPIKey returns a random API key and the hex SHA-256 that is stored.
func newAPIKey() (key, hash string) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("ledger: crypto/rand failed: " + err.Error())
	}
	key = APIKeyPrefix + base64.RawURLEncoding.EncodeToString(b)
	return key, HashAPIKey(key)
}

// HashAPIKey is how API keys are stored and looked up.
func HashAPIKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

func (o *op) putNewUser(customerID, email string, role Role) (*User, string, error) {
	key, hash := newAPIKey()
	u := &User{ID: "u-" + randHex(6), CustomerID: customerID, Email: email, Role: role, KeyHash: hash, CreatedAt: o.now}
	if err := o.x.PutJSON(store.UserKey(u.ID), u); err != nil {
		return nil, "", err
	}
	if err := o.x.Put(store.UserByCustomerKey(customerID, u.ID), nil); err != nil {
		return nil, "", err
	}
	if err := o.x.Put(store.APIKeyKey(hash), []byte(u.ID)); err != nil {
		return nil, "", err
	}
	return u, key, nil
}

// activeUsers counts a customer's users whose keys are not revoked.
func (o *op) activeUsers(customerID string) (int, error) {
	n := 0
	err := o.x.Scan(store.UserByCustomerPrefix(customerID), nil, false, func(k, _ []byte) (bool, error) {
		var u User
		if err := o.x.GetJSON(store.UserKey(store.LastPart(k)), &u); err != nil {
			return false, err
		}
		if !u.Revoked {
			n++
		}
		return true, nil
	})
	return n, err
}

// CreateUser adds a user and returns its API key, shown this once. An admin
// who manages the customer may add users; an admin of the issuing chain may
// create a customer's first user (onboarding) but not more, since a
// superior holding a customer's key would bypass allow_superior_manage.
func (lg *Ledger) CreateUser(ctx context.Context, a Actor, customerID, email string, role Role) (*User, string, error) {
	if err := checkNewUser(email, role); err != nil {
		return nil, "", err
	}
	var out *User
	var key string
	err := lg.update(func(o *op) error {
		var err error
		out, key, err = o.createUser(a, customerID, email, role)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	v := *out
	v.KeyHash = ""
	return &v, key, nil
}

func checkNewUser(email string, role Role) error {
	if !role.Valid() {
		return fmt.Errorf("%w: role %q: want admin, operator or viewer", ErrInvalid, role)
	}
	if _, err := mail.ParseAddress(email); err != nil || strings.ContainsAny(email, "<> ") {
		return fmt.Errorf("%w: email %q is not an address", ErrInvalid, email)
	}
	return nil
}

func (o *op) createUser(a Actor, customerID, email string, role Role) (*User, string, error) {
	c, err := o.visibleCustomer(a, customerID)
	if err != nil {
		return nil, "", err
	}
	if err := o.canManage(a, c, RoleAdmin); err != nil {
		n, cerr := o.activeUsers(c.ID)
		if cerr != nil {
			return nil, "", cerr
		}
		if n > 0 || o.canIssue(a, c) != nil {
			return nil, "", err
		}
	}
	u, key, err := o.putNewUser(c.ID, email, role)
	if err != nil {
		return nil, "", err
	}
	return u, key, o.audit(a, "user.create", "user", u.ID, c.ID, nil, u)
}

// ListUsers lists the users of one visible customer (the actor's own when empty).
func (lg *Ledger) ListUsers(ctx context.Context, a Actor, customerID string) ([]User, error) {
	if customerID == "" {
		customerID = a.CustomerID
	}
	var out []User
	err := lg.view(func(o *op) error {
		if _, err := o.visibleCustomer(a, customerID); err != nil {
			return err
		}
		return o.x.Scan(store.UserByCustomerPrefix(customerID), nil, false, func(k, _ []byte) (bool, error) {
			var u User
			if err := o.x.GetJSON(store.UserKey(store.LastPart(k)), &u); err != nil {
				return false, err
			}
			u.KeyHash = ""
			out = append(out, u)
			return true, nil
		})
	})
	return out, err
}

// RevokeUser revokes a user's API key for good.
func (lg *Ledger) RevokeUser(ctx context.Context, a Actor, userID string) (*User, error) {
	var out User
	err := lg.update(func(o *op) error {
		var u User
		if err := o.x.GetJSON(store.UserKey(userID), &u); err != nil {
			return mapNotFound(err, "user", userID)
		}
		c, err := o.visibleCustomer(a, u.CustomerID)
		if err != nil {
			return notFound("user", userID)
		}
		if err := o.canManage(a, c, RoleAdmin); err != nil {
			return err
		}
		before := u
		u.Revoked = true
		if err := o.x.PutJSON(store.UserKey(u.ID), &u); err != nil {
			return err
		}
		if err := o.x.Delete(store.APIKeyKey(u.KeyHash)); err != nil {
			return err
		}
		out = u
		out.KeyHash = ""
		return o.audit(a, "user.revoke", "user", u.ID, u.CustomerID, &before, &u)
	})
	return &out, err
}

// Authenticate resolves an API key to its actor. Unknown and revoked keys
// give the same ErrUnauthenticated.
func (lg *Ledger) Authenticate(ctx context.Context, key string) (Actor, error) {
	if !strings.HasPrefix(key, APIKeyPrefix) || len(key) > MaxAPIKeyLen {
		return Actor{}, ErrUnauthenticated
	}
	var a Actor
	err := lg.db.View(func(x *store.Txn) error {
		id, err := x.Get(store.APIKeyKey(HashAPIKey(key)))
		if err != nil {
			return err
		}
		var u User
		if err := x.GetJSON(store.UserKey(string(id)), &u); err != nil {
			return err
		}
		if u.Revoked {
			return store.ErrNotFound
		}
		a = Actor{UserID: u.ID, CustomerID: u.CustomerID, Role: u.Role}
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return Actor{}, ErrUnauthenticated
	}
	return a, err
}
