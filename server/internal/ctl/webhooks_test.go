package ctl

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tollgate-iot/tollgate/server/internal/api"
	"github.com/tollgate-iot/tollgate/server/internal/ledgertest"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// TestWebhookCommands runs every webhook command against the real API
// over a real ledger.
func TestWebhookCommands(t *testing.T) {
	le := ledgertest.Open(t)
	srv := httptest.NewServer(api.New(api.Options{Ledger: le.Ledger, Clock: le.Clock, Logger: le.Logger}).Handler())
	t.Cleanup(srv.Close)
	t.Setenv("TOLLGATE_SERVER", srv.URL)
	t.Setenv("TOLLGATE_API_KEY", le.RootKey)
	root := le.Ledger.RootID()
	mustRun := func(args ...string) string {
		t.Helper()
		code, out, errOut := run(args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
		return out
	}
	var w wire.Webhook
	out := mustRun("webhook", "create", "--customer", root, "--url", "https://203.0.113.7/hook", "--events", "device.blacklisted,license.revoked", "-o", "json")
	if err := json.Unmarshal([]byte(out), &w); err != nil || !strings.HasPrefix(w.Secret, "whsec_") {
		t.Fatalf("create: %s (%v)", out, err)
	}
	out = mustRun("webhook", "list", "-o", "csv")
	if !strings.HasPrefix(out, "ID,CUSTOMER,URL,EVENTS,DISABLED,FAILING_SINCE\n") || !strings.Contains(out, w.ID) || strings.Contains(out, "whsec_") {
		t.Fatalf("list: %s", out)
	}
	var d wire.Delivery
	if err := json.Unmarshal([]byte(mustRun("webhook", "test", w.ID, "-o", "json")), &d); err != nil || d.EventType != "webhook.test" {
		t.Fatalf("test: %+v %v", d, err)
	}
	out = mustRun("webhook", "deliveries", w.ID, "--limit", "5", "-o", "csv")
	if !strings.HasPrefix(out, "ID,EVENT,TYPE,STATE,ATTEMPTS,LAST_STATUS,LAST_ERROR,CREATED,NEXT_ATTEMPT\n"+d.ID+","+d.EventID+",webhook.test,pending,0,-,-,") {
		t.Fatalf("deliveries: %s", out)
	}
	if out := mustRun("webhook", "redeliver", d.ID); !strings.Contains(out, "pending") {
		t.Fatalf("redeliver: %s", out)
	}
	code, _, errOut := run("webhook", "create", "--customer", root, "--url", "http://127.0.0.1:9/", "--events", "license.revoked")
	if code != 1 || !strings.HasPrefix(errOut, "error: webhook_url_refused: ") {
		t.Fatalf("loopback URL: exit %d, %s", code, errOut)
	}
	mustRun("webhook", "delete", w.ID)
	if out := mustRun("webhook", "list", "-o", "json"); strings.Contains(out, w.ID) {
		t.Fatalf("after delete: %s", out)
	}
}
