package ledger

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

const goodPassword = "correct horse battery"

// person creates a user of customer and sets its password through an
// invitation; it returns the user.
func (e *env) person(a Actor, customer, email string, role Role) *User {
	e.t.Helper()
	u, _, err := e.lg.CreateUser(ctx, a, customer, email, role)
	if err != nil {
		e.t.Fatalf("CreateUser: %v", err)
	}
	inv, err := e.lg.Invite(ctx, a, u.ID)
	if err != nil {
		e.t.Fatalf("Invite: %v", err)
	}
	if err := e.lg.AcceptInvitation(ctx, strings.TrimPrefix(inv.Path, InvitationPath), goodPassword); err != nil {
		e.t.Fatalf("AcceptInvitation: %v", err)
	}
	return u
}

func TestInvitationSetsPasswordOnce(t *testing.T) {
	e := newEnv(t)
	e.tree()
	u, _, err := e.lg.CreateUser(ctx, admin("acme"), "acme", "ann@acme.test", RoleViewer)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := e.lg.Invite(ctx, admin("acme"), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	tok := strings.TrimPrefix(inv.Path, InvitationPath)
	if email, err := e.lg.CheckInvitation(ctx, tok); err != nil || email != "ann@acme.test" {
		t.Fatalf("CheckInvitation = %q, %v", email, err)
	}
	if err := e.lg.AcceptInvitation(ctx, tok, "short"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("short password: %v, want ErrInvalid", err)
	}
	if err := e.lg.AcceptInvitation(ctx, tok, goodPassword); err != nil {
		t.Fatal(err)
	}
	if err := e.lg.AcceptInvitation(ctx, tok, goodPassword+"2"); !errors.Is(err, ErrInvitationInvalid) {
		t.Fatalf("second use: %v, want ErrInvitationInvalid", err)
	}
	_, s, err := e.lg.SignIn(ctx, "ANN@acme.test", goodPassword)
	if err != nil {
		t.Fatal(err)
	}
	if s.Actor != (Actor{UserID: u.ID, CustomerID: "acme", Role: RoleViewer}) {
		t.Fatalf("actor = %+v", s.Actor)
	}
}

func TestInvitationExpires(t *testing.T) {
	e := newEnv(t)
	e.tree()
	u, _, _ := e.lg.CreateUser(ctx, admin("acme"), "acme", "ann@acme.test", RoleViewer)
	inv, err := e.lg.Invite(ctx, admin("acme"), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(InvitationLifetime)
	if err := e.lg.AcceptInvitation(ctx, strings.TrimPrefix(inv.Path, InvitationPath), goodPassword); !errors.Is(err, ErrInvitationInvalid) {
		t.Fatalf("expired invitation: %v", err)
	}
}

func TestInviteSiblingRefused(t *testing.T) {
	e := newEnv(t)
	e.tree()
	u, _, _ := e.lg.CreateUser(ctx, admin("acme"), "acme", "ann@acme.test", RoleViewer)
	if _, err := e.lg.Invite(ctx, admin("beta"), u.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("sibling invite: %v, want ErrNotFound", err)
	}
	if _, err := e.lg.Invite(ctx, as(admin("acme"), RoleOperator), u.ID); !errors.Is(err, ErrForbidden) {
		t.Fatalf("operator invite: %v, want ErrForbidden", err)
	}
}

func TestSignInWrongPasswordAndUnknownEmail(t *testing.T) {
	e := newEnv(t)
	e.tree()
	e.person(admin("acme"), "acme", "ann@acme.test", RoleViewer)
	if _, _, err := e.lg.SignIn(ctx, "ann@acme.test", "wrong password!"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("wrong password: %v", err)
	}
	if _, _, err := e.lg.SignIn(ctx, "nobody@acme.test", goodPassword); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("unknown e-mail: %v", err)
	}
}

func TestSignInLockout(t *testing.T) {
	e := newEnv(t)
	e.tree()
	e.person(admin("acme"), "acme", "ann@acme.test", RoleViewer)
	for i := range MaxSignInFailures {
		if _, _, err := e.lg.SignIn(ctx, "ann@acme.test", "wrong password!"); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("failure %d: %v", i+1, err)
		}
	}
	if _, _, err := e.lg.SignIn(ctx, "ann@acme.test", goodPassword); !errors.Is(err, ErrAccountLocked) {
		t.Fatalf("right password while locked: %v, want ErrAccountLocked", err)
	}
	e.clk.Advance(SignInLockout)
	if _, _, err := e.lg.SignIn(ctx, "ann@acme.test", goodPassword); err != nil {
		t.Fatalf("after the lockout: %v", err)
	}
	// A success resets the count: MaxSignInFailures-1 more failures do not lock.
	for range MaxSignInFailures - 1 {
		e.lg.SignIn(ctx, "ann@acme.test", "wrong password!")
	}
	if _, _, err := e.lg.SignIn(ctx, "ann@acme.test", goodPassword); err != nil {
		t.Fatalf("after %d failures: %v", MaxSignInFailures-1, err)
	}
}

func TestSessionIdleAndAbsoluteExpiry(t *testing.T) {
	e := newEnv(t)
	e.tree()
	e.person(admin("acme"), "acme", "ann@acme.test", RoleViewer)
	sid, _, err := e.lg.SignIn(ctx, "ann@acme.test", goodPassword)
	if err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(SessionIdleTimeout - time.Second)
	if _, err := e.lg.ResolveSession(ctx, sid); err != nil {
		t.Fatalf("used before the idle timeout: %v", err)
	}
	e.clk.Advance(SessionIdleTimeout)
	if _, err := e.lg.ResolveSession(ctx, sid); !errors.Is(err, ErrSessionInvalid) {
		t.Fatalf("idle: %v, want ErrSessionInvalid", err)
	}
	// Kept busy, a session still ends SessionMaxLifetime after sign-in.
	sid, _, err = e.lg.SignIn(ctx, "ann@acme.test", goodPassword)
	if err != nil {
		t.Fatal(err)
	}
	for elapsed := time.Duration(0); elapsed < SessionMaxLifetime-SessionIdleTimeout; elapsed += SessionIdleTimeout / 2 {
		e.clk.Advance(SessionIdleTimeout / 2)
		if _, err := e.lg.ResolveSession(ctx, sid); err != nil {
			t.Fatalf("busy session at %v: %v", elapsed, err)
		}
	}
	e.clk.Advance(SessionIdleTimeout)
	if _, err := e.lg.ResolveSession(ctx, sid); !errors.Is(err, ErrSessionInvalid) {
		t.Fatalf("past the lifetime: %v, want ErrSessionInvalid", err)
	}
}

func TestSignOutEverywhere(t *testing.T) {
	e := newEnv(t)
	e.tree()
	e.person(admin("acme"), "acme", "ann@acme.test", RoleViewer)
	e.person(admin("acme"), "acme", "bob@acme.test", RoleViewer)
	s1, sess, _ := e.lg.SignIn(ctx, "ann@acme.test", goodPassword)
	s2, _, _ := e.lg.SignIn(ctx, "ann@acme.test", goodPassword)
	s3, _, _ := e.lg.SignIn(ctx, "bob@acme.test", goodPassword)
	if n, err := e.lg.SignOutEverywhere(ctx, sess.Actor); err != nil || n != 2 {
		t.Fatalf("SignOutEverywhere = %d, %v; want 2", n, err)
	}
	for _, sid := range []string{s1, s2} {
		if _, err := e.lg.ResolveSession(ctx, sid); !errors.Is(err, ErrSessionInvalid) {
			t.Fatalf("ann's session after sign out everywhere: %v", err)
		}
	}
	if _, err := e.lg.ResolveSession(ctx, s3); err != nil {
		t.Fatalf("bob's session: %v", err)
	}
	if err := e.lg.SignOut(ctx, s3); err != nil {
		t.Fatal(err)
	}
	if _, err := e.lg.ResolveSession(ctx, s3); !errors.Is(err, ErrSessionInvalid) {
		t.Fatalf("after sign out: %v", err)
	}
}

func TestRevokedUserSessionEnds(t *testing.T) {
	e := newEnv(t)
	e.tree()
	u := e.person(admin("acme"), "acme", "ann@acme.test", RoleViewer)
	sid, _, _ := e.lg.SignIn(ctx, "ann@acme.test", goodPassword)
	pending, err := e.lg.Invite(ctx, admin("acme"), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.lg.RevokeUser(ctx, admin("acme"), u.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.lg.AcceptInvitation(ctx, strings.TrimPrefix(pending.Path, InvitationPath), "another long password"); !errors.Is(err, ErrInvitationInvalid) {
		t.Fatalf("invitation of a revoked user: %v", err)
	}
	if _, err := e.lg.Invite(ctx, admin("acme"), u.ID); !errors.Is(err, ErrInvalid) {
		t.Fatalf("invite a revoked user: %v", err)
	}
	if _, err := e.lg.ResolveSession(ctx, sid); !errors.Is(err, ErrSessionInvalid) {
		t.Fatalf("revoked user's session: %v", err)
	}
	if _, _, err := e.lg.SignIn(ctx, "ann@acme.test", goodPassword); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("revoked user's sign-in: %v", err)
	}
}

func TestPasswordResetEndsSessions(t *testing.T) {
	e := newEnv(t)
	e.tree()
	u := e.person(admin("acme"), "acme", "ann@acme.test", RoleViewer)
	sid, _, _ := e.lg.SignIn(ctx, "ann@acme.test", goodPassword)
	inv, err := e.lg.Invite(ctx, admin("acme"), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.lg.AcceptInvitation(ctx, strings.TrimPrefix(inv.Path, InvitationPath), "a brand new password"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.lg.ResolveSession(ctx, sid); !errors.Is(err, ErrSessionInvalid) {
		t.Fatalf("session after reset: %v", err)
	}
	if _, _, err := e.lg.SignIn(ctx, "ann@acme.test", goodPassword); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("old password after reset: %v", err)
	}
}

func TestPasswordHashIsArgon2idWithSalt(t *testing.T) {
	a, b := hashPassword(goodPassword, epoch), hashPassword(goodPassword, epoch)
	if a.Salt == b.Salt || a.Hash == b.Hash {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	if !a.matches(goodPassword) || a.matches(goodPassword+"x") {
		t.Fatal("matches is wrong")
	}
	if a.Time != Argon2Time || a.MemKiB != Argon2MemKiB || a.Threads != Argon2Threads {
		t.Fatalf("parameters = %+v", a)
	}
}

// TestPasswordHashesWaitForASlot: with every hash slot taken, a sign-in
// waits (here until its context ends) rather than computing one more
// argon2id hash.
func TestPasswordHashesWaitForASlot(t *testing.T) {
	e := newEnv(t)
	e.tree()
	e.person(admin("acme"), "acme", "ann@acme.test", RoleViewer)
	for range MaxConcurrentPasswordHashes {
		hashSlots <- struct{}{}
	}
	defer func() {
		for range MaxConcurrentPasswordHashes {
			<-hashSlots
		}
	}()
	c, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, _, err := e.lg.SignIn(c, "ann@acme.test", goodPassword); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("sign-in with no slot free: %v", err)
	}
	if _, _, err := e.lg.SignIn(c, "nobody@acme.test", goodPassword); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("unknown e-mail with no slot free: %v", err)
	}
}

// TestCreatePersonIsOneTransaction: a refused creation leaves neither a
// user nor an invitation; an accepted one gives both.
func TestCreatePersonIsOneTransaction(t *testing.T) {
	e := newEnv(t)
	e.tree()
	if _, _, _, err := e.lg.CreatePerson(ctx, admin("beta"), "acme", "spy@beta.test", RoleAdmin); !errors.Is(err, ErrNotFound) {
		t.Fatalf("sibling CreatePerson: %v", err)
	}
	us, err := e.lg.ListUsers(ctx, admin("acme"), "acme")
	if err != nil || len(us) != 0 {
		t.Fatalf("users of acme after a refused CreatePerson: %v, %v", us, err)
	}
	u, key, inv, err := e.lg.CreatePerson(ctx, admin("acme"), "acme", "ann@acme.test", RoleViewer)
	if err != nil || key == "" || inv.UserID != u.ID {
		t.Fatalf("CreatePerson = %+v %q %+v, %v", u, key, inv, err)
	}
	if email, err := e.lg.CheckInvitation(ctx, strings.TrimPrefix(inv.Path, InvitationPath)); err != nil || email != "ann@acme.test" {
		t.Fatalf("its invitation: %q, %v", email, err)
	}
}
