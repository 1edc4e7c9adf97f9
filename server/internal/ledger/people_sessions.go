package ledger

import (
	"context"
	"errors"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/store"
)

// Limits of console sessions and sign-in lockout (docs/console.md).
const (
	// SessionIdleTimeout ends a session not used for this long.
	SessionIdleTimeout = 30 * time.Minute
	// SessionMaxLifetime ends a session this long after sign-in, used or not.
	SessionMaxLifetime = 12 * time.Hour
	// sessionTouchEvery is how stale a session's last use may get before a
	// request writes it again (so that reading pages is not a write each).
	sessionTouchEvery = time.Minute
	// MaxSignInFailures failed sign-ins in a row lock an account for
	// SignInLockout.
	MaxSignInFailures = 5
	SignInLockout     = 15 * time.Minute
	// MaxSessionsPerUser caps a user's open sessions; signing in beyond it
	// ends the oldest.
	MaxSessionsPerUser = 20
)

// session is a stored console session.
type session struct {
	UserID    string    `json:"user_id"`
	CreatedAt time.Time `json:"created_at"`
	LastSeen  time.Time `json:"last_seen"`
	// CSRF is the token every form of this session must carry.
	CSRF string `json:"csrf"`
}

// signInFailures is a user's count of failed sign-ins in a row.
type signInFailures struct {
	Count       int       `json:"count"`
	LockedUntil time.Time `json:"locked_until,omitzero"`
}

// Session is a signed-in person: the actor the console acts as, and the
// session's CSRF token.
type Session struct {
	Actor Actor
	Email string
	CSRF  string
}

// SignIn checks an e-mail and password and opens a session; it returns the
// session id (for the cookie, shown this once) and the session. Every
// attempt on an account counts before the password is checked, so parallel
// guesses count too; MaxSignInFailures in a row lock the account for
// SignInLockout, and a success resets the count. A locked account refuses
// even the right password.
func (lg *Ledger) SignIn(ctx context.Context, email, password string) (string, *Session, error) {
	if len(password) > MaxPasswordLen || len(email) > 254 {
		return "", nil, ErrBadCredentials
	}
	var u User
	var ph passwordHash
	err := lg.update(func(o *op) error {
		id, err := o.x.Get(emailKey(email))
		if err != nil {
			return err
		}
		if err := o.x.GetJSON(store.UserKey(string(id)), &u); err != nil {
			return err
		}
		if u.Revoked {
			return store.ErrNotFound
		}
		if err := o.x.GetJSON(store.PasswordKey(u.ID), &ph); err != nil {
			return err
		}
		var f signInFailures
		if err := o.x.GetJSON(store.SignInFailuresKey(u.ID), &f); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if o.now.Before(f.LockedUntil) {
			return ErrAccountLocked
		}
		f.Count++
		if f.Count >= MaxSignInFailures {
			f = signInFailures{LockedUntil: o.now.Add(SignInLockout)}
		}
		return o.x.PutJSON(store.SignInFailuresKey(u.ID), &f)
	})
	if errors.Is(err, store.ErrNotFound) {
		if err := withHashSlot(ctx, func() { dummyHash.matches(password) }); err != nil {
			return "", nil, err
		}
		return "", nil, ErrBadCredentials
	}
	if err != nil {
		return "", nil, err
	}
	var ok bool
	if err := withHashSlot(ctx, func() { ok = ph.matches(password) }); err != nil {
		return "", nil, err
	}
	if !ok {
		return "", nil, ErrBadCredentials
	}
	sid, hash := newSecret()
	csrf, _ := newSecret()
	err = lg.update(func(o *op) error {
		// The count this attempt added (and a lock it set) is cleared.
		if err := o.x.Delete(store.SignInFailuresKey(u.ID)); err != nil {
			return err
		}
		if err := o.capSessions(u.ID); err != nil {
			return err
		}
		s := session{UserID: u.ID, CreatedAt: o.now, LastSeen: o.now, CSRF: csrf}
		if err := o.x.PutJSON(store.SessionKey(hash), &s); err != nil {
			return err
		}
		return o.x.Put(store.SessionByUserKey(u.ID, hash), nil)
	})
	if err != nil {
		return "", nil, err
	}
	return sid, &Session{Actor: Actor{UserID: u.ID, CustomerID: u.CustomerID, Role: u.Role}, Email: u.Email, CSRF: csrf}, nil
}

// capSessions ends the oldest sessions of a user beyond MaxSessionsPerUser-1.
func (o *op) capSessions(userID string) error {
	type open struct {
		hash string
		at   time.Time
	}
	var all []open
	err := o.x.Scan(store.SessionByUserPrefix(userID), nil, false, func(k, _ []byte) (bool, error) {
		h := store.LastPart(k)
		var s session
		if err := o.x.GetJSON(store.SessionKey(h), &s); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return true, nil
			}
			return false, err
		}
		all = append(all, open{h, s.CreatedAt})
		return true, nil
	})
	if err != nil || len(all) < MaxSessionsPerUser {
		return err
	}
	oldest := 0
	for i := range all {
		if all[i].at.Before(all[oldest].at) {
			oldest = i
		}
	}
	return o.deleteSession(userID, all[oldest].hash)
}

func (o *op) deleteSession(userID, hash string) error {
	if err := o.x.Delete(store.SessionKey(hash)); err != nil {
		return err
	}
	return o.x.Delete(store.SessionByUserKey(userID, hash))
}

// deleteSessions ends every session of a user and says how many there were.
func (o *op) deleteSessions(userID string) (int, error) {
	var hashes []string
	err := o.x.Scan(store.SessionByUserPrefix(userID), nil, false, func(k, _ []byte) (bool, error) {
		hashes = append(hashes, store.LastPart(k))
		return true, nil
	})
	if err != nil {
		return 0, err
	}
	for _, h := range hashes {
		if err := o.deleteSession(userID, h); err != nil {
			return 0, err
		}
	}
	return len(hashes), nil
}

// ResolveSession returns the signed-in person of a session id. Unknown,
// idle-expired and past-lifetime sessions, and those of revoked users, all
// give ErrSessionInvalid (an expired one is deleted). A session's last use
// is written at most every sessionTouchEvery.
func (lg *Ledger) ResolveSession(ctx context.Context, sid string) (*Session, error) {
	if sid == "" || len(sid) > MaxSecretLen {
		return nil, ErrSessionInvalid
	}
	hash := hashSecret(sid)
	var out *Session
	var touch, expired bool
	var userID string
	err := lg.view(func(o *op) error {
		var s session
		if err := o.x.GetJSON(store.SessionKey(hash), &s); err != nil {
			return err
		}
		userID = s.UserID
		if !o.now.Before(s.LastSeen.Add(SessionIdleTimeout)) || !o.now.Before(s.CreatedAt.Add(SessionMaxLifetime)) {
			expired = true
			return nil
		}
		var u User
		if err := o.x.GetJSON(store.UserKey(s.UserID), &u); err != nil {
			return err
		}
		if u.Revoked {
			expired = true
			return nil
		}
		touch = o.now.Sub(s.LastSeen) >= sessionTouchEvery
		out = &Session{Actor: Actor{UserID: u.ID, CustomerID: u.CustomerID, Role: u.Role}, Email: u.Email, CSRF: s.CSRF}
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrSessionInvalid
	}
	if err != nil {
		return nil, err
	}
	if expired || touch {
		err = lg.update(func(o *op) error {
			var s session
			if err := o.x.GetJSON(store.SessionKey(hash), &s); err != nil {
				return err
			}
			if expired {
				return o.deleteSession(userID, hash)
			}
			s.LastSeen = o.now
			return o.x.PutJSON(store.SessionKey(hash), &s)
		})
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	}
	if expired {
		return nil, ErrSessionInvalid
	}
	return out, nil
}

// SignOut ends one session (an unknown id is not an error: it is over).
func (lg *Ledger) SignOut(ctx context.Context, sid string) error {
	if sid == "" || len(sid) > MaxSecretLen {
		return nil
	}
	hash := hashSecret(sid)
	return lg.update(func(o *op) error {
		var s session
		if err := o.x.GetJSON(store.SessionKey(hash), &s); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			return err
		}
		return o.deleteSession(s.UserID, hash)
	})
}

// SignOutEverywhere ends every session of the actor's own user and says
// how many were ended.
func (lg *Ledger) SignOutEverywhere(ctx context.Context, a Actor) (int, error) {
	var n int
	err := lg.update(func(o *op) error {
		var err error
		n, err = o.deleteSessions(a.UserID)
		if err != nil {
			return err
		}
		return o.audit(a, "user.sign_out_everywhere", "user", a.UserID, a.CustomerID, nil, map[string]int{"sessions": n})
	})
	return n, err
}

// CheckCSRF compares a form's token with the session's in constant time.
func (s *Session) CheckCSRF(token string) bool { return token != "" && secretEqual(token, s.CSRF) }
