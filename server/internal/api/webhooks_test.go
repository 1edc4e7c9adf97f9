package api

import (
	"strings"
	"testing"

	"github.com/tollgate-iot/tollgate/shared/wire"
)

// TestWebhookAPI walks an endpoint through the API: created with its
// secret shown once, listed without it, tested, its delivery listed and
// redelivered, deleted; strict decoding refuses what it does not know.
func TestWebhookAPI(t *testing.T) {
	e := newAPIEnv(t)
	e.world()
	var h wire.Webhook
	e.must(201, "POST", "/v1/webhooks", e.key["acme"], wire.CreateWebhookRequest{CustomerID: "acme", URL: "https://203.0.113.7/hook",
		Events: []string{"device.blacklisted", "license.revoked"}}, &h)
	if !strings.HasPrefix(h.Secret, "whsec_") || h.ID == "" {
		t.Fatalf("created %+v", h)
	}
	var list wire.WebhookList
	e.must(200, "GET", "/v1/webhooks?customer=acme", e.key["dist"], nil, &list)
	if len(list.Webhooks) != 1 || list.Webhooks[0].Secret != "" || list.Webhooks[0].ID != h.ID {
		t.Fatalf("list %+v", list)
	}
	var d wire.Delivery
	e.must(202, "POST", "/v1/webhooks/"+h.ID+"/test", e.key["acme"], nil, &d)
	if d.EventType != "webhook.test" || d.State != "pending" {
		t.Fatalf("test delivery %+v", d)
	}
	// The blacklist fans out to the endpoint.
	e.must(200, "POST", "/v1/devices/dev-1/blacklist", e.key["acme"], wire.BlacklistRequest{Reason: "stolen"}, nil)
	var ds wire.DeliveryList
	e.must(200, "GET", "/v1/webhooks/"+h.ID+"/deliveries?limit=10", e.key["acme"], nil, &ds)
	if len(ds.Deliveries) != 2 || ds.Deliveries[0].EventType != "device.blacklisted" || ds.Deliveries[1].ID != d.ID {
		t.Fatalf("deliveries %+v", ds)
	}
	e.must(202, "POST", "/v1/deliveries/"+d.ID+"/redeliver", e.key["acme"], nil, nil)
	for _, bad := range []struct {
		method, path string
		body         any
		status       int
		code         string
	}{
		{"GET", "/v1/webhooks?customer=acme&secret=1", nil, 400, "invalid_parameter"},
		{"GET", "/v1/webhooks/" + h.ID + "/deliveries?cursor=x", nil, 400, "invalid_parameter"},
		{"POST", "/v1/webhooks", `{"customer_id":"acme","url":"https://203.0.113.7/","events":["license.revoked"],"secret":"mine"}`, 400, "unknown_field"},
		{"POST", "/v1/webhooks", wire.CreateWebhookRequest{CustomerID: "acme", URL: "https://203.0.113.7/", Events: []string{"license.exploded"}}, 400, "invalid_argument"},
		{"POST", "/v1/webhooks", wire.CreateWebhookRequest{CustomerID: "acme", URL: "gopher://203.0.113.7/", Events: []string{"license.revoked"}}, 400, "webhook_url_refused"},
		{"POST", "/v1/webhooks", wire.CreateWebhookRequest{CustomerID: "acme", URL: "http://[::1]/", Events: []string{"license.revoked"}}, 400, "webhook_url_refused"},
		{"POST", "/v1/webhooks", wire.CreateWebhookRequest{CustomerID: "acme", URL: "http://10.0.0.1/", Events: []string{"license.revoked"}}, 400, "webhook_url_refused"},
		{"POST", "/v1/deliveries/dlv_nope/redeliver", nil, 404, "not_found"},
	} {
		code, raw := e.call(bad.method, bad.path, e.key["acme"], bad.body, nil)
		if code != bad.status || errCode(raw) != bad.code {
			t.Errorf("%s %s: %d %s, want %d %s", bad.method, bad.path, code, raw, bad.status, bad.code)
		}
	}
	e.must(204, "DELETE", "/v1/webhooks/"+h.ID, e.key["acme"], nil, nil)
	e.must(200, "GET", "/v1/webhooks?customer=acme", e.key["acme"], nil, &list)
	if len(list.Webhooks) != 0 {
		t.Fatalf("after delete %+v", list)
	}
}
