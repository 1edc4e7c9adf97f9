package api

import (
	"strings"
	"testing"

	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// TestUserInvitationAndReset: creating a user returns a console invitation
// link; reset-password returns another, by the same admin rules (a sibling
// customer's admin gets not found, the user's own viewer forbidden).
func TestUserInvitationAndReset(t *testing.T) {
	e := newAPIEnv(t)
	e.world()
	var u wire.CreateUserResponse
	e.must(201, "POST", "/v1/users", e.key["acme"], wire.CreateUserRequest{CustomerID: "acme", Email: "ann@acme.test", Role: "viewer"}, &u)
	if !strings.HasPrefix(u.InvitationPath, ledger.InvitationPath) || u.InvitationExpiresAt.IsZero() {
		t.Fatalf("invitation = %+v", u.Invitation)
	}
	path := "/v1/users/" + u.User.ID + "/reset-password"
	if code, raw := e.call("POST", path, e.key["beta"], nil, nil); code != 404 || errCode(raw) != "not_found" {
		t.Fatalf("sibling reset: %d %s", code, raw)
	}
	if code, raw := e.call("POST", path, e.key["acme-viewer"], nil, nil); code != 403 || errCode(raw) != "forbidden" {
		t.Fatalf("viewer reset: %d %s", code, raw)
	}
	var r wire.PasswordResetResponse
	e.must(200, "POST", path, e.key["acme"], nil, &r)
	if r.UserID != u.User.ID || r.InvitationPath == u.InvitationPath {
		t.Fatalf("reset = %+v", r)
	}
	tok := strings.TrimPrefix(r.InvitationPath, ledger.InvitationPath)
	if err := e.lg.AcceptInvitation(t.Context(), tok, "a long enough password"); err != nil {
		t.Fatal(err)
	}
	if code, raw := e.call("POST", path, e.key["acme"], `{"x":1}`, nil); code != 400 || errCode(raw) != "unknown_field" {
		t.Fatalf("body with a field: %d %s", code, raw)
	}
}
