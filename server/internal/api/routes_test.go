package api

import (
	"net/http"
	"strings"
	"testing"

	"github.com/tollgate-iot/tollgate/shared/airgap"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
	"github.com/tollgate-iot/tollgate/shared/token"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// TestEveryRouteAnswers walks every /v1 route once, in an order in which
// each call is allowed, and checks its status and one fact of its answer.
func TestEveryRouteAnswers(t *testing.T) {
	e := newAPIEnv(t)
	lic := e.world()
	root, dist, acme := e.key["root"], e.key["dist"], e.key["acme"]
	var stock wire.LicenseList
	e.must(201, "POST", "/v1/licenses", dist, wire.CreateLicenseRequest{CustomerID: "acme", Type: "standard", Billing: "days", Days: 10, Models: []string{"*"}, Count: 3}, &stock)
	dayLic, spare, offline := stock.Licenses[0].ID, stock.Licenses[1].ID, stock.Licenses[2].ID
	tests := []struct {
		name, key, method, path string
		body                    any
		status                  int
		want                    string
	}{
		{"whoami", acme, "GET", "/v1/whoami", nil, 200, `"customer_id":"acme"`},
		{"customers/list", dist, "GET", "/v1/customers?parent=dist", nil, 200, `"id":"acme"`},
		{"customers/get", dist, "GET", "/v1/customers/acme", nil, 200, `"name":"acme"`},
		{"customers/patch", acme, "PATCH", "/v1/customers/acme", map[string]any{"address": "Main St 1"}, 200, `"address":"Main St 1"`},
		{"users/list", acme, "GET", "/v1/users?customer=acme", nil, 200, `"role":"viewer"`},
		{"devices/list", acme, "GET", "/v1/devices?customer=acme", nil, 200, `"id":"dev-1"`},
		{"devices/get", acme, "GET", "/v1/devices/dev-1", nil, 200, `"model":"sensor-a"`},
		{"devices/blacklist", acme, "POST", "/v1/devices/dev-1/blacklist", wire.BlacklistRequest{Reason: "stolen"}, 200, `"blacklist_reason":"stolen"`},
		{"devices/unblacklist", acme, "POST", "/v1/devices/dev-1/unblacklist", nil, 200, `"blacklisted":false`},
		{"devices/sync", acme, "GET", "/v1/devices/dev-1/sync", nil, 200, `"device_id":"dev-1"`},
		{"activations/offline", acme, "POST", "/v1/activations/offline", wire.OfflineActivationRequest{
			Request: string(activationRequest(t, "site-9", "site-9")), LicenseID: offline}, 200, `"device_created":true`},
		{"devices/activation-key", acme, "POST", "/v1/devices/site-9/activation-key", nil, 200, `"seq":2`},
		{"devices/tokens", acme, "GET", "/v1/devices/dev-1/tokens", nil, 200, `"token":"tg1.lic.`},
		{"licenses/get", acme, "GET", "/v1/licenses/" + lic.ID, nil, 200, `"status":"active"`},
		{"licenses/patch", acme, "PATCH", "/v1/licenses/" + lic.ID, map[string]any{"customer_description": "line 3"}, 200, `"customer_description":"line 3"`},
		{"licenses/token", acme, "GET", "/v1/licenses/" + lic.ID + "/token", nil, 200, `"version":2`},
		{"licenses/renew-off", acme, "POST", "/v1/licenses/" + lic.ID + "/renew", map[string]any{"renew": false}, 200, `"renew":false`},
		{"licenses/renew-on", dist, "POST", "/v1/licenses/" + lic.ID + "/renew", map[string]any{"renew": true}, 200, `"renew":true`},
		{"licenses/unbind", acme, "POST", "/v1/licenses/" + lic.ID + "/unbind", nil, 200, `"status":"deactivated"`},
		{"licenses/bind", acme, "POST", "/v1/licenses/" + dayLic + "/bind", wire.BindRequest{DeviceID: "dev-1"}, 200, `"status":"inactive"`},
		{"licenses/days", dist, "POST", "/v1/licenses/" + dayLic + "/days", wire.AddDaysRequest{Days: 5}, 200, `"available_days":15`},
		{"licenses/deductions", acme, "GET", "/v1/licenses/" + dayLic + "/deductions", nil, 200, `"deductions":[]`},
		{"licenses/history", acme, "GET", "/v1/licenses/" + dayLic + "/history", nil, 200, `"kind":"top_up"`},
		{"reports/renewals", dist, "GET", "/v1/reports/renewals?from=2026-01-01&to=2026-02-01", nil, 200, `"renewals":[]`},
		{"reports/active", dist, "GET", "/v1/reports/active?reseller=acme&day=" + e.clk.Now().UTC().Format("2006-01-02"), nil, 200, `"license_id":"` + lic.ID},
		{"licenses/suspend", dist, "POST", "/v1/licenses/" + dayLic + "/suspend", nil, 200, `"status":"suspended"`},
		{"licenses/resume", dist, "POST", "/v1/licenses/" + dayLic + "/resume", nil, 200, `"status":"inactive"`},
		{"licenses/lock", acme, "POST", "/v1/licenses/" + spare + "/lock", nil, 200, `"locked":true`},
		{"licenses/unlock", acme, "POST", "/v1/licenses/" + spare + "/unlock", "{}", 200, `"locked":false`},
		{"licenses/move", dist, "POST", "/v1/licenses/" + spare + "/move", wire.CustomerRef{To: "beta"}, 200, `"customer_id":"beta"`},
		{"licenses/delete", dist, "DELETE", "/v1/licenses/" + spare, nil, 204, ""},
		{"licenses/deleted", dist, "GET", "/v1/licenses/" + spare, nil, 404, `"not_found"`},
		{"licenses/revoke", root, "POST", "/v1/licenses/" + dayLic + "/revoke", nil, 200, `"status":"revoked"`},
		{"sales/list", dist, "GET", "/v1/sales", nil, 200, `"kind":"move"`},
		{"reports/consumption", dist, "GET", "/v1/reports/consumption?customer=dist&month=2026-03", nil, 200, `"customer_id":"acme"`},
		{"audit/list", acme, "GET", "/v1/audit?limit=3", nil, 200, `"next_cursor"`},
		{"revocation-list", acme, "GET", "/v1/revocation-list", nil, 200, `"next_update":`},
		{"stats", acme, "GET", "/v1/stats", nil, 200, `"customer_id":"acme"`},
		{"devices/revocation-list", acme, "GET", "/v1/devices/dev-1/revocation-list", nil, 200, `"token":"tg1.rev.`},
		{"users/revoke", acme, "POST", "/v1/users/" + e.userID(acme, "viewer@acme.test") + "/revoke", nil, 200, `"revoked":true`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			changes := e.auditCount()
			code, raw := e.call(tc.method, tc.path, tc.key, tc.body, nil)
			if grew := e.auditCount() > changes; grew != (tc.method != "GET") {
				t.Fatalf("%s %s: audit log grew=%v; every change and only a change is logged", tc.method, tc.path, grew)
			}
			if code != tc.status || !strings.Contains(string(raw), tc.want) {
				t.Fatalf("%d %s, want %d with %s", code, raw, tc.status, tc.want)
			}
			if code != http.StatusNoContent && !strings.HasPrefix(string(raw), "{") {
				t.Fatalf("answer is not a JSON object: %s", raw)
			}
		})
	}
	t.Run("usage/import", func(t *testing.T) {
		// The one admin route whose body is a file (text/plain), not JSON.
		signer, _ := token.NewSigner(siteKey("site-9"))
		text, err := syncproto.SignReceipt(signer, &syncproto.Report{DeviceID: "site-9", Nonce: "AAAAAAAAAAAAAAAAAAAAAA",
			SentAt: e.clk.Now().Unix(), Tokens: []syncproto.TokenVersion{}, Deductions: []syncproto.Deduction{}, Counts: []syncproto.HourlyCount{}})
		if err != nil {
			t.Fatal(err)
		}
		file, _ := airgap.Armor(token.KindUsageReceipt, text)
		changes := e.auditCount()
		code, raw := e.raw("POST", "/v1/usage/import", acme, string(file), "text/plain")
		if code != 200 || !strings.Contains(string(raw), `"duplicate":false`) || e.auditCount() <= changes {
			t.Fatalf("%d %s (audit grew: %v)", code, raw, e.auditCount() > changes)
		}
	})
}

func (e *apiEnv) userID(key, email string) string {
	e.t.Helper()
	var l wire.UserList
	e.must(200, "GET", "/v1/users", key, nil, &l)
	for _, u := range l.Users {
		if u.Email == email {
			return u.ID
		}
	}
	e.t.Fatalf("no user %s", email)
	return ""
}
