package ledger

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/tollgate-iot/tollgate/server/internal/store"
)

// People who sign in to the web console (docs/console.md): a user sets a
// password through an invitation link, signs in with e-mail and password,
// and holds a server-side session (people_sessions.go) that resolves to
// the same Actor an API key does.

// Refusals of console sign-in.
var (
	// ErrBadCredentials reports a wrong e-mail or password; which of the two
	// is never said.
	ErrBadCredentials = errors.New("wrong e-mail or password")
	// ErrAccountLocked reports an account locked after too many failed
	// sign-ins; it unlocks by itself after SignInLockout.
	ErrAccountLocked = errors.New("account locked after too many failed sign-ins")
	// ErrInvitationInvalid reports an invitation token that is unknown,
	// used or expired (the three are indistinguishable on purpose).
	ErrInvitationInvalid = errors.New("invitation link is unknown, used or expired")
	// ErrSessionInvalid reports a session id that is unknown, signed out or
	// expired.
	ErrSessionInvalid = errors.New("session is unknown or expired")
)

// The argon2id parameters of new password hashes: OWASP's minimum for
// argon2id (19 MiB, 2 passes, 1 lane), which costs about 50 ms on one core.
// Each hash records the parameters it was made with, so raising these
// later keeps old hashes verifiable.
const (
	Argon2Time    = 2
	Argon2MemKiB  = 19 * 1024
	Argon2Threads = 1
	Argon2KeyLen  = 32
	Argon2SaltLen = 16
)

// Limits of console sign-in.
const (
	// MinPasswordLen and MaxPasswordLen bound a password, in bytes (the
	// upper bound caps what one sign-in hashes).
	MinPasswordLen = 12
	MaxPasswordLen = 256
	// InvitationLifetime is how long an invitation (or reset) link works.
	InvitationLifetime = 72 * time.Hour
	// InvitationPath starts every invitation link; the token follows it.
	InvitationPath = "/console/invite/"
	// MaxSecretLen bounds a presented invitation token or session id.
	MaxSecretLen = 128
	// MaxConcurrentPasswordHashes bounds the argon2id hashes computed at
	// once (each takes Argon2MemKiB of memory): a flood of sign-ins waits
	// for a slot instead of exhausting memory.
	MaxConcurrentPasswordHashes = 4
)

// hashSlots holds one token per password hash being computed.
var hashSlots = make(chan struct{}, MaxConcurrentPasswordHashes)

// withHashSlot runs fn once a hash slot is free, or gives up with the
// context's error.
func withHashSlot(ctx context.Context, fn func()) error {
	select {
	case hashSlots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-hashSlots }()
	fn()
	return nil
}

// passwordHash is a stored argon2id hash with its parameters.
type passwordHash struct {
	Salt    string    `json:"salt"`
	Hash    string    `json:"hash"`
	Time    uint32    `json:"time"`
	MemKiB  uint32    `json:"mem_kib"`
	Threads uint8     `json:"threads"`
	SetAt   time.Time `json:"set_at"`
}

func hashPassword(pw string, now time.Time) passwordHash {
	salt := randBytes(Argon2SaltLen)
	k := argon2.IDKey([]byte(pw), salt, Argon2Time, Argon2MemKiB, Argon2Threads, Argon2KeyLen)
	return passwordHash{Salt: hex.EncodeToString(salt), Hash: hex.EncodeToString(k), Time: Argon2Time,
		MemKiB: Argon2MemKiB, Threads: Argon2Threads, SetAt: now}
}

// matches compares pw with the hash in constant time.
func (p *passwordHash) matches(pw string) bool {
	salt, err1 := hex.DecodeString(p.Salt)
	want, err2 := hex.DecodeString(p.Hash)
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(pw), salt, p.Time, p.MemKiB, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// dummyHash is verified against when no account matches, so that an
// unknown e-mail costs the same time as a wrong password.
var dummyHash = passwordHash{Salt: strings.Repeat("00", Argon2SaltLen), Hash: strings.Repeat("00", Argon2KeyLen),
	Time: Argon2Time, MemKiB: Argon2MemKiB, Threads: Argon2Threads}

func randBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("ledger: crypto/rand failed: " + err.Error())
	}
	return b
}

// newSecret returns a random URL-safe secret and the hex SHA-256 stored for it.
func newSecret() (secret, hash string) {
	secret = base64.RawURLEncoding.EncodeToString(randBytes(32))
	return secret, hashSecret(secret)
}

func hashSecret(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// emailKey is how an address is indexed: lowercased, hashed (an address
// may hold characters a key part may not).
func emailKey(email string) []byte {
	return store.PersonEmailKey(hashSecret(strings.ToLower(strings.TrimSpace(email))))
}

func checkPassword(pw string) error {
	switch {
	case len(pw) < MinPasswordLen:
		return invalid("password: at least %d characters", MinPasswordLen)
	case len(pw) > MaxPasswordLen:
		return invalid("password: at most %d bytes", MaxPasswordLen)
	case !utf8.ValidString(pw):
		return invalid("password: not valid UTF-8")
	}
	return nil
}

// invitation is a stored invitation (or password reset) of one user.
type invitation struct {
	UserID    string    `json:"user_id"`
	ExpiresAt time.Time `json:"expires_at"`
	CreatedBy string    `json:"created_by"`
}

// Invitation is what Invite returns: the link path, shown this once.
type Invitation struct {
	UserID    string
	Email     string // the person's, where the link may be e-mailed
	Path      string
	ExpiresAt time.Time
}

// Invite makes an invitation link for a user: the person opens it to set
// (or reset) the password the console signs in with. The link works once,
// for InvitationLifetime. Only an admin who manages the user's customer may
// invite, as for RevokeUser; an issuing admin may invite the customer's
// first user, whom they onboarded (CreateUser).
func (lg *Ledger) Invite(ctx context.Context, a Actor, userID string) (*Invitation, error) {
	var out *Invitation
	err := lg.update(func(o *op) error {
		var err error
		out, err = o.invite(a, userID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// CreatePerson is CreateUser and Invite in one transaction: the user, its
// API key and its invitation link, all or nothing (POST /v1/users).
func (lg *Ledger) CreatePerson(ctx context.Context, a Actor, customerID, email string, role Role) (*User, string, *Invitation, error) {
	if err := checkNewUser(email, role); err != nil {
		return nil, "", nil, err
	}
	var u *User
	var key string
	var inv *Invitation
	err := lg.update(func(o *op) error {
		var err error
		if u, key, err = o.createUser(a, customerID, email, role); err != nil {
			return err
		}
		inv, err = o.invite(a, u.ID)
		return err
	})
	if err != nil {
		return nil, "", nil, err
	}
	v := *u
	v.KeyHash = ""
	return &v, key, inv, nil
}

func (o *op) invite(a Actor, userID string) (*Invitation, error) {
	var u User
	if err := o.x.GetJSON(store.UserKey(userID), &u); err != nil {
		return nil, mapNotFound(err, "user", userID)
	}
	c, err := o.visibleCustomer(a, u.CustomerID)
	if err != nil {
		return nil, notFound("user", userID)
	}
	if u.Revoked {
		return nil, invalid("user %s is revoked", u.ID)
	}
	if err := o.canManage(a, c, RoleAdmin); err != nil {
		n, cerr := o.activeUsers(c.ID)
		if cerr != nil {
			return nil, cerr
		}
		if n > 1 || o.canIssue(a, c) != nil {
			return nil, err
		}
	}
	token, hash := newSecret()
	inv := invitation{UserID: u.ID, ExpiresAt: o.now.Add(InvitationLifetime), CreatedBy: a.UserID}
	if err := o.x.PutJSON(store.InvitationKey(hash), &inv); err != nil {
		return nil, err
	}
	out := &Invitation{UserID: u.ID, Email: u.Email, Path: InvitationPath + token, ExpiresAt: inv.ExpiresAt}
	return out, o.audit(a, "user.invite", "user", u.ID, u.CustomerID, nil, map[string]any{"expires_at": inv.ExpiresAt})
}

// CheckInvitation tells whether an invitation token is usable now, and
// whose e-mail it is for (the set-password page shows it).
func (lg *Ledger) CheckInvitation(ctx context.Context, token string) (string, error) {
	var email string
	err := lg.view(func(o *op) error {
		u, _, err := o.invitationUser(token)
		if err == nil {
			email = u.Email
		}
		return err
	})
	return email, err
}

func (o *op) invitationUser(token string) (*User, []byte, error) {
	if token == "" || len(token) > MaxSecretLen {
		return nil, nil, ErrInvitationInvalid
	}
	k := store.InvitationKey(hashSecret(token))
	var inv invitation
	if err := o.x.GetJSON(k, &inv); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil, ErrInvitationInvalid
		}
		return nil, nil, err
	}
	if !o.now.Before(inv.ExpiresAt) {
		return nil, nil, ErrInvitationInvalid
	}
	var u User
	if err := o.x.GetJSON(store.UserKey(inv.UserID), &u); err != nil {
		return nil, nil, mapNotFound(err, "user", inv.UserID)
	}
	if u.Revoked {
		return nil, nil, ErrInvitationInvalid
	}
	return &u, k, nil
}

// AcceptInvitation sets the password of the invitation's user and uses the
// invitation up. It signs the user out everywhere and clears a lockout, so
// a reset also ends any session a thief held.
func (lg *Ledger) AcceptInvitation(ctx context.Context, token, password string) error {
	if err := checkPassword(password); err != nil {
		return err
	}
	var ph passwordHash
	if err := withHashSlot(ctx, func() { ph = hashPassword(password, lg.clock.Now().UTC()) }); err != nil {
		return err // outside the write lock: it is slow on purpose
	}
	return lg.update(func(o *op) error {
		u, k, err := o.invitationUser(token)
		if err != nil {
			return err
		}
		ek := emailKey(u.Email)
		if id, err := o.x.Get(ek); err == nil && string(id) != u.ID {
			var other User
			if err := o.x.GetJSON(store.UserKey(string(id)), &other); err == nil && !other.Revoked {
				return invalid("e-mail %s already signs in as user %s; revoke that user first", u.Email, other.ID)
			}
		} else if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		ph.SetAt = o.now
		if err := o.x.PutJSON(store.PasswordKey(u.ID), &ph); err != nil {
			return err
		}
		if err := o.x.Put(ek, []byte(u.ID)); err != nil {
			return err
		}
		if err := o.x.Delete(k); err != nil {
			return err
		}
		if err := o.x.Delete(store.SignInFailuresKey(u.ID)); err != nil {
			return err
		}
		if _, err := o.deleteSessions(u.ID); err != nil {
			return err
		}
		a := Actor{UserID: u.ID, CustomerID: u.CustomerID, Role: u.Role}
		return o.audit(a, "user.set_password", "user", u.ID, u.CustomerID, nil, nil)
	})
}

// secretEqual compares two secrets in constant time.
func secretEqual(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
