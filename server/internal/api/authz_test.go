package api

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/tollgate-iot/tollgate/shared/wire"
)

// TestAuthorizationTable tries what each caller must not do and asserts
// the status, the code, and that nothing changed.
func TestAuthorizationTable(t *testing.T) {
	e := newAPIEnv(t)
	lic := e.world()
	spare := "/v1/licenses/" + lic.ID
	var revoked wire.CreateUserResponse
	e.must(201, "POST", "/v1/users", e.key["acme"], wire.CreateUserRequest{CustomerID: "acme", Email: "gone@acme.test", Role: "admin"}, &revoked)
	e.must(200, "POST", "/v1/users/"+revoked.User.ID+"/revoke", e.key["acme"], nil, nil)
	var trials wire.LicenseList
	e.must(200, "GET", "/v1/licenses?customer=acme&type=trial", e.key["acme"], nil, &trials)
	if len(trials.Licenses) != 1 {
		t.Fatalf("acme has %d trials, want its automatic one", len(trials.Licenses))
	}
	trial := trials.Licenses[0].ID
	var hook wire.Webhook
	e.must(201, "POST", "/v1/webhooks", e.key["acme"], wire.CreateWebhookRequest{CustomerID: "acme", URL: "https://203.0.113.7/hook", Events: []string{"device.blacklisted"}}, &hook)
	var hookTry wire.Delivery
	e.must(202, "POST", "/v1/webhooks/"+hook.ID+"/test", e.key["acme"], nil, &hookTry)
	newHook := func(cust, url string) wire.CreateWebhookRequest {
		return wire.CreateWebhookRequest{CustomerID: cust, URL: url, Events: []string{"license.revoked"}}
	}

	tests := []struct {
		name   string
		key    string
		method string
		path   string
		body   any
		status int
		code   string
	}{
		{"sibling/read-license", "beta", "GET", spare, nil, 404, "not_found"},
		{"sibling/read-device", "beta", "GET", "/v1/devices/dev-1", nil, 404, "not_found"},
		{"sibling/read-customer", "beta", "GET", "/v1/customers/acme", nil, 404, "not_found"},
		{"sibling/read-token", "beta", "GET", spare + "/token", nil, 404, "not_found"},
		{"sibling/read-history", "beta", "GET", spare + "/history", nil, 404, "not_found"},
		{"sibling/read-notices", "beta", "GET", spare + "/notices", nil, 404, "not_found"},
		{"sibling/read-customer-notices", "beta", "GET", "/v1/customers/acme/notices", nil, 404, "not_found"},
		{"customer/read-parent-notices", "acme", "GET", "/v1/customers/dist/notices", nil, 404, "not_found"},
		{"sibling/renewal-report", "beta", "GET", "/v1/reports/renewals?from=2026-01-01&to=2027-01-01&customer=acme", nil, 404, "not_found"},
		{"sibling/active-report", "beta", "GET", "/v1/reports/active?reseller=acme&day=2026-04-01", nil, 404, "not_found"},
		{"customer/active-report-of-parent", "acme", "GET", "/v1/reports/active?reseller=dist&day=2026-04-01", nil, 404, "not_found"},
		{"sibling/created-report", "beta", "GET", "/v1/reports/created?month=2026-04&customer=acme", nil, 404, "not_found"},
		{"customer/created-report-of-parent", "acme", "GET", "/v1/reports/created?month=2026-04&customer=dist", nil, 404, "not_found"},
		{"sibling/unbind", "beta", "POST", spare + "/unbind", nil, 404, "not_found"},
		{"sibling/create-device", "beta", "POST", "/v1/devices", wire.CreateDeviceRequest{ID: "x-1", CustomerID: "acme", Model: "m", PublicKey: newPublicKey(t)}, 404, "not_found"},
		{"sibling/stats", "beta", "GET", "/v1/stats?customer=acme", nil, 404, "not_found"},
		{"customer/stats-of-parent", "acme", "GET", "/v1/stats?customer=dist", nil, 404, "not_found"},
		{"sibling/consumption-report", "beta", "GET", "/v1/reports/consumption?customer=acme&month=2026-03", nil, 404, "not_found"},
		{"sibling/consumption-report-csv", "beta", "GET", "/v1/reports/consumption?customer=acme&month=2026-03&format=csv", nil, 404, "not_found"},
		{"customer/consumption-report-of-parent", "acme", "GET", "/v1/reports/consumption?customer=dist&month=2026-03", nil, 404, "not_found"},
		{"sibling/sell-to", "beta", "POST", "/v1/sales/return", wire.BatchRequest{Customer: "acme", Count: 1}, 404, "not_found"},
		{"superior-without-consent/unbind", "dist", "POST", spare + "/unbind", nil, 403, "forbidden"},
		{"superior-without-consent/lock", "dist", "POST", spare + "/lock", nil, 403, "forbidden"},
		{"superior-without-consent/create-device", "dist", "POST", "/v1/devices", wire.CreateDeviceRequest{ID: "x-2", CustomerID: "acme", Model: "m", PublicKey: newPublicKey(t)}, 403, "forbidden"},
		{"superior-without-consent/second-user", "dist", "POST", "/v1/users", wire.CreateUserRequest{CustomerID: "acme", Email: "spy@dist.test", Role: "admin"}, 403, "forbidden"},
		{"superior/grants-itself-consent", "dist", "PATCH", "/v1/customers/acme", map[string]any{"allow_superior_manage": true}, 403, "forbidden"},
		{"viewer/unbind", "acme-viewer", "POST", spare + "/unbind", nil, 403, "forbidden"},
		{"viewer/create-device", "acme-viewer", "POST", "/v1/devices", wire.CreateDeviceRequest{ID: "x-3", CustomerID: "acme", Model: "m", PublicKey: newPublicKey(t)}, 403, "forbidden"},
		{"viewer/set-description", "acme-viewer", "PATCH", spare, map[string]any{"customer_description": "x"}, 403, "forbidden"},
		{"operator/lock", "acme-operator", "POST", spare + "/lock", nil, 403, "forbidden"},
		{"customer/write-distributor-description", "acme", "PATCH", spare, map[string]any{"distributor_description": "x"}, 403, "forbidden"},
		{"customer/revoke", "acme", "POST", spare + "/revoke", nil, 403, "forbidden"},
		{"customer/suspend-own", "acme", "POST", spare + "/suspend", nil, 403, "forbidden"},
		{"customer/mint-licenses", "acme", "POST", "/v1/licenses", wire.CreateLicenseRequest{CustomerID: "acme", Type: "standard", Billing: "term", Models: []string{"*"}}, 403, "forbidden"},
		{"customer/grants-itself-issuer", "acme", "PATCH", "/v1/customers/acme", map[string]any{"issuer": true}, 403, "forbidden"},
		{"customer/grants-itself-issuer-with-name", "acme", "PATCH", "/v1/customers/acme", map[string]any{"issuer": true, "name": "Acme Minting"}, 403, "forbidden"},
		{"distributor/grants-customer-issuer", "dist", "PATCH", "/v1/customers/acme", map[string]any{"issuer": true}, 403, "forbidden"},
		{"distributor/lifts-own-limits", "dist", "PATCH", "/v1/customers/dist", map[string]any{"max_days": 0, "allowed_months": []int{}}, 403, "forbidden"},
		{"sibling/grants-issuer", "beta", "PATCH", "/v1/customers/acme", map[string]any{"issuer": true}, 404, "not_found"},
		{"vendor/revokes-own-issuer", "root", "PATCH", "/v1/customers/root", map[string]any{"issuer": false}, 400, "invalid_argument"},
		{"customer/returns-own-trial-up", "acme", "POST", "/v1/sales/return", wire.BatchRequest{IDs: []string{trial}}, 403, "return_above_origin"},
		{"customer/set-own-vat", "acme", "PATCH", "/v1/customers/acme", map[string]any{"vat": "DE1"}, 403, "forbidden"},
		{"sibling/list-webhooks", "beta", "GET", "/v1/webhooks?customer=acme", nil, 404, "not_found"},
		{"sibling/create-webhook", "beta", "POST", "/v1/webhooks", newHook("acme", "https://203.0.113.8/"), 404, "not_found"},
		{"sibling/delete-webhook", "beta", "DELETE", "/v1/webhooks/" + hook.ID, nil, 404, "not_found"},
		{"sibling/test-webhook", "beta", "POST", "/v1/webhooks/" + hook.ID + "/test", nil, 404, "not_found"},
		{"sibling/webhook-deliveries", "beta", "GET", "/v1/webhooks/" + hook.ID + "/deliveries", nil, 404, "not_found"},
		{"sibling/redeliver", "beta", "POST", "/v1/deliveries/" + hookTry.ID + "/redeliver", nil, 404, "not_found"},
		{"customer/webhooks-of-parent", "acme", "GET", "/v1/webhooks?customer=dist", nil, 404, "not_found"},
		{"superior-without-consent/create-webhook", "dist", "POST", "/v1/webhooks", newHook("acme", "https://203.0.113.8/"), 403, "forbidden"},
		{"viewer/create-webhook", "acme-viewer", "POST", "/v1/webhooks", newHook("acme", "https://203.0.113.8/"), 403, "forbidden"},
		{"viewer/delete-webhook", "acme-viewer", "DELETE", "/v1/webhooks/" + hook.ID, nil, 403, "forbidden"},
		{"operator/redeliver", "acme-operator", "POST", "/v1/deliveries/" + hookTry.ID + "/redeliver", nil, 403, "forbidden"},
		{"customer/webhook-into-server-network", "acme", "POST", "/v1/webhooks", newHook("acme", "http://169.254.169.254/latest/meta-data/"), 400, "webhook_url_refused"},
		{"customer/webhook-to-loopback", "acme", "POST", "/v1/webhooks", newHook("acme", "http://127.0.0.1:8080/"), 400, "webhook_url_refused"},
		{"unknown-key", "tgk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "GET", "/v1/licenses", nil, 401, "unauthenticated"},
		{"revoked-key", revoked.APIKey, "GET", "/v1/licenses", nil, 401, "unauthenticated"},
		{"revoked-key/write", revoked.APIKey, "POST", spare + "/unbind", nil, 401, "unauthenticated"},
		{"no-key", "", "GET", "/v1/whoami", nil, 401, "unauthenticated"},
		{"key-without-prefix", "not-a-key", "GET", "/v1/whoami", nil, 401, "unauthenticated"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key := tc.key
			if k, ok := e.key[tc.key]; ok {
				key = k
			}
			var before, after json.RawMessage
			e.must(200, "GET", spare, e.key["root"], nil, &before)
			changes := e.auditCount()
			code, raw := e.call(tc.method, tc.path, key, tc.body, nil)
			if code != tc.status || errCode(raw) != tc.code {
				t.Fatalf("%d %s, want %d %s", code, raw, tc.status, tc.code)
			}
			e.must(200, "GET", spare, e.key["root"], nil, &after)
			if n := e.auditCount(); n != changes || !bytes.Equal(before, after) {
				t.Fatalf("refused attempt changed something: %d → %d audit entries\n%s\n%s", changes, n, before, after)
			}
		})
	}
}

func TestCustomerDoesNotReadDistributorDescription(t *testing.T) {
	e := newAPIEnv(t)
	lic := e.world()
	tests := []struct {
		name, key string
		visible   bool
	}{
		{"owner", "acme", false},
		{"owner-viewer", "acme-viewer", false},
		{"issuer", "dist", true},
		{"vendor", "root", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			active := "/v1/reports/active?reseller=acme&day=" + e.clk.Now().UTC().Format("2006-01-02")
			created := "/v1/reports/created?customer=dist&month=" + e.clk.Now().UTC().Format("2006-01")
			for _, path := range []string{"/v1/licenses/" + lic.ID, "/v1/licenses?customer=acme", "/v1/audit", active, created} {
				_, raw := e.call("GET", path, e.key[tc.key], nil, nil)
				if bytes.Contains(raw, []byte("PO-4711")) != tc.visible {
					t.Fatalf("%s: visible=%v, want %v: %s", path, !tc.visible, tc.visible, raw)
				}
			}
		})
	}
}
