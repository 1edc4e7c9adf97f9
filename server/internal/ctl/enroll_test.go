package ctl

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tollgate-iot/tollgate/shared/wire"
)

// TestEnrollmentCommandsAgainstRealServer: create prints the code once,
// list shows the record without it, revoke marks it, and bad flags are
// usage errors.
func TestEnrollmentCommandsAgainstRealServer(t *testing.T) {
	realServer(t)
	mustRun(t, "customer", "create", "--id", "acme", "--name", "Acme", "--parent", "root")
	var u wire.CreateUserResponse
	if err := json.Unmarshal([]byte(mustRun(t, "user", "create", "--customer", "acme", "--email", "a@acme.test", "--role", "admin", "-o", "json")), &u); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TOLLGATE_API_KEY", u.APIKey) // the customer's own admin: root may not manage acme
	var e wire.Enrollment
	out := mustRun(t, "enrollment", "create", "--customer", "acme", "--models", "sensor-*,gw-*", "--uses", "3",
		"--expires-in", "30d", "--license-pool", "-o", "json")
	if err := json.Unmarshal([]byte(out), &e); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if !strings.HasPrefix(e.Code, "tge_") || e.MaxUses != 3 || !e.LicensePool || e.ExpiresAt == nil || len(e.Models) != 2 {
		t.Fatalf("created %+v", e)
	}
	table := mustRun(t, "enrollment", "list", "--customer", "acme")
	if !strings.Contains(table, e.ID) || !strings.Contains(table, "0/3") || strings.Contains(table, e.Code) {
		t.Fatalf("list:\n%s", table)
	}
	out = mustRun(t, "enrollment", "revoke", e.ID, "-o", "json")
	var r wire.Enrollment
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.Status != "revoked" || r.Code != "" {
		t.Fatalf("revoke: %v %s", err, out)
	}
	for _, args := range [][]string{
		{"enrollment", "create", "--customer", "acme", "--expires-in", "soon"},
		{"enrollment", "create", "--customer", "acme", "--expires-in", "-1d"},
		{"enrollment", "create"},
		{"enrollment", "revoke"},
	} {
		if code, _, errOut := run(args...); code != 2 || !strings.HasPrefix(errOut, "error: usage: ") {
			t.Errorf("%v: exit %d %q, want a usage error", args, code, errOut)
		}
	}
	if code, _, errOut := run("enrollment", "revoke", "e-nothing"); code != 1 || !strings.HasPrefix(errOut, "error: not_found: ") {
		t.Errorf("revoke unknown: exit %d %q", code, errOut)
	}
}
