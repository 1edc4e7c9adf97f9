package api

import (
	"strings"
	"testing"

	"github.com/tollgate-iot/tollgate/shared/wire"
)

// TestBadInputRefusedWithNamedCode sends malformed requests and asserts a
// 4xx with the right code and that nothing was applied.
func TestBadInputRefusedWithNamedCode(t *testing.T) {
	e := newAPIEnv(t)
	lic := e.world()
	dist := e.key["dist"]
	lp := "/v1/licenses/" + lic.ID
	big := `{"name":"` + strings.Repeat("x", wire.MaxAdminBodyBytes+10) + `"}`
	okLicense := `{"customer_id":"acme","type":"standard","billing":"term","models":["sensor-*"]`
	tests := []struct {
		name         string
		method, path string
		body         string
		ctype        string
		status       int
		code         string
	}{
		{"oversized-body", "POST", "/v1/customers", big, "", 413, "body_too_large"},
		{"unknown-field", "POST", "/v1/customers", `{"name":"x","admin":true}`, "", 400, "unknown_field"},
		{"wrong-type/string-count", "POST", "/v1/licenses", okLicense + `,"count":"5"}`, "", 400, "wrong_type"},
		{"wrong-type/models-not-list", "POST", "/v1/licenses", `{"customer_id":"acme","type":"standard","billing":"term","models":"*"}`, "", 400, "wrong_type"},
		{"wrong-type/count-overflows-int", "POST", "/v1/licenses", okLicense + `,"count":1e30}`, "", 400, "wrong_type"},
		{"malformed-json", "POST", "/v1/customers", `{"name":`, "", 400, "malformed_json"},
		{"empty-body", "POST", "/v1/customers", ``, "", 400, "malformed_json"},
		{"trailing-data", "POST", "/v1/customers", `{"name":"x"}{"name":"y"}`, "", 400, "malformed_json"},
		{"json-array", "POST", "/v1/customers", `[{"name":"x"}]`, "", 400, "wrong_type"},
		{"not-json-content-type", "POST", "/v1/customers", `{"name":"x"}`, "text/plain", 415, "unsupported_media_type"},
		{"negative-count", "POST", "/v1/licenses", okLicense + `,"count":-1}`, "", 400, "invalid_argument"},
		{"huge-count", "POST", "/v1/licenses", okLicense + `,"count":1000000}`, "", 400, "invalid_argument"},
		{"negative-days", "POST", "/v1/licenses", `{"customer_id":"acme","type":"standard","billing":"days","models":["*"],"days":-3}`, "", 400, "invalid_argument"},
		{"negative-start-at-children", "POST", "/v1/licenses", okLicense + `,"start_at_children":-1}`, "", 400, "invalid_argument"},
		{"start-at-children-above-max", "POST", "/v1/licenses", okLicense + `,"start_at_children":3,"max_children":2}`, "", 400, "invalid_argument"},
		{"start-at-children-not-a-number", "POST", "/v1/licenses", okLicense + `,"start_at_children":"3"}`, "", 400, "wrong_type"},
		{"negative-sell-count", "POST", "/v1/sales/sell", `{"customer_id":"acme","count":-5}`, "", 400, "invalid_argument"},
		{"huge-sell-count", "POST", "/v1/sales/sell", `{"customer_id":"acme","count":99999999}`, "", 400, "invalid_argument"},
		{"id-with-slash", "POST", "/v1/customers", `{"id":"a/b","name":"x"}`, "", 400, "invalid_argument"},
		{"id-with-plus", "POST", "/v1/customers", `{"id":"a+b","name":"x"}`, "", 400, "invalid_argument"},
		{"id-with-hash", "POST", "/v1/customers", `{"id":"a#b","name":"x"}`, "", 400, "invalid_argument"},
		{"id-with-nul", "POST", "/v1/customers", `{"id":"a\u0000b","name":"x"}`, "", 400, "invalid_argument"},
		{"device-id-with-plus", "POST", "/v1/devices", `{"id":"dev+1","customer_id":"dist","model":"m","public_key":"x"}`, "", 400, "invalid_argument"},
		{"weak-public-key", "POST", "/v1/devices", `{"id":"dev-9","customer_id":"dist","model":"m","public_key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`, "", 400, "invalid_argument"},
		{"path-id-encoded-slash", "GET", "/v1/licenses/a%2Fb", "", "", 400, "invalid_parameter"},
		{"path-id-nul", "GET", "/v1/devices/dev%001", "", "", 400, "invalid_parameter"},
		{"path-id-plus", "POST", "/v1/devices/dev+1/blacklist", "", "", 400, "invalid_parameter"},
		{"path-id-hash", "POST", "/v1/licenses/a%23b/lock", "", "", 400, "invalid_parameter"},
		{"bind-device-with-hash", "POST", lp + "/bind", `{"device_id":"dev#1"}`, "", 400, "invalid_argument"},
		{"immutable-field", "PATCH", lp, `{"max_samples_per_hour":5000}`, "", 422, "immutable_field"},
		{"immutable-type", "PATCH", lp, `{"type":"trial","customer_description":"x"}`, "", 422, "immutable_field"},
		{"renew-missing", "POST", lp + "/renew", `{}`, "", 400, "invalid_argument"},
		{"action-with-unknown-field", "POST", lp + "/lock", `{"force":true}`, "", 400, "unknown_field"},
		{"limit-zero", "GET", "/v1/licenses?limit=0", "", "", 400, "invalid_parameter"},
		{"limit-huge", "GET", "/v1/licenses?limit=100000", "", "", 400, "invalid_parameter"},
		{"bad-status-filter", "GET", "/v1/licenses?status=alive", "", "", 400, "invalid_parameter"},
		{"bad-expiring-within", "GET", "/v1/licenses?expiring_within=soon", "", "", 400, "invalid_parameter"},
		{"bad-locked-filter", "GET", "/v1/licenses?locked=yes", "", "", 400, "invalid_parameter"},
		{"bad-days-min-filter", "GET", "/v1/licenses?days_min=-1", "", "", 400, "invalid_parameter"},
		{"bad-days-max-filter", "GET", "/v1/licenses?days_max=ten", "", "", 400, "invalid_parameter"},
		{"bad-cursor", "GET", "/v1/licenses?cursor=!!!", "", "", 400, "invalid_parameter"},
		{"customer-filter-with-slash", "GET", "/v1/licenses?customer=a/b", "", "", 400, "invalid_parameter"},
		{"licenses-unknown-parameter", "GET", "/v1/licenses?colour=red", "", "", 400, "invalid_parameter"},
		{"licenses-repeated-parameter", "GET", "/v1/licenses?status=active&status=unused", "", "", 400, "invalid_parameter"},
		{"licenses-misspelt-filter", "GET", "/v1/licenses?serial-prefix=TG", "", "", 400, "invalid_parameter"},
		{"bad-type-filter", "GET", "/v1/licenses?type=gold", "", "", 400, "invalid_parameter"},
		{"long-description-filter", "GET", "/v1/licenses?description=" + strings.Repeat("x", 300), "", "", 400, "invalid_parameter"},
		{"bad-activated-from", "GET", "/v1/licenses?activated_from=yesterday", "", "", 400, "invalid_parameter"},
		{"ends-range-backwards", "GET", "/v1/licenses?ends_from=2026-05-01&ends_to=2026-04-01", "", "", 400, "invalid_parameter"},
		{"devices-unknown-parameter", "GET", "/v1/devices?model=x", "", "", 400, "invalid_parameter"},
		{"customers-unknown-parameter", "GET", "/v1/customers?name=acme", "", "", 400, "invalid_parameter"},
		{"users-unknown-parameter", "GET", "/v1/users?role=admin", "", "", 400, "invalid_parameter"},
		{"audit-unknown-parameter", "GET", "/v1/audit?action=license.revoke", "", "", 400, "invalid_parameter"},
		{"enrollments-unknown-parameter", "GET", "/v1/enrollments?pool=x", "", "", 400, "invalid_parameter"},
		{"webhooks-unknown-parameter", "GET", "/v1/webhooks?url=x", "", "", 400, "invalid_parameter"},
		{"webhooks-repeated-customer", "GET", "/v1/webhooks?customer=dist&customer=acme", "", "", 400, "invalid_parameter"},
		{"deliveries-unknown-parameter", "GET", "/v1/webhooks/wh-x/deliveries?cursor=1", "", "", 400, "invalid_parameter"},
		{"webhook-test-with-body", "POST", "/v1/webhooks/wh-x/test", `{"event":"x"}`, "", 400, "unknown_field"},
		{"notices-unknown-parameter", "GET", lp + "/notices?kind=ended", "", "", 400, "invalid_parameter"},
		{"deductions-unknown-parameter", "GET", lp + "/deductions?limit=5", "", "", 400, "invalid_parameter"},
		{"sales-unknown-parameter", "GET", "/v1/sales?kind=sell", "", "", 400, "invalid_parameter"},
		{"sales-bad-method", "GET", "/v1/sales?method=steal", "", "", 400, "invalid_parameter"},
		{"sales-bad-from", "GET", "/v1/sales?from=2026-13-01", "", "", 400, "invalid_parameter"},
		{"sales-license-with-slash", "GET", "/v1/sales?license=a/b", "", "", 400, "invalid_parameter"},
		{"sales-period-backwards", "GET", "/v1/sales?from=2026-05-01&to=2026-05-01", "", "", 400, "invalid_parameter"},
		{"unknown-route", "GET", "/v1/nothing", "", "", 404, "not_found"},
		{"wrong-method", "PUT", "/v1/licenses", `{}`, "", 405, "method_not_allowed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			changes := e.auditCount()
			code, raw := e.raw(tc.method, tc.path, dist, tc.body, tc.ctype)
			if code != tc.status || errCode(raw) != tc.code {
				t.Fatalf("%d %.300s, want %d %s", code, raw, tc.status, tc.code)
			}
			if n := e.auditCount(); n != changes {
				t.Fatalf("refused request changed the ledger: %d → %d audit entries", changes, n)
			}
		})
	}
}
