package api

import (
	"strings"
	"testing"

	"github.com/tollgate-iot/tollgate/shared/token"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

func TestHealthAndMetrics(t *testing.T) {
	e := newAPIEnv(t)
	var h wire.Health
	e.must(200, "GET", "/healthz", "", nil, &h)
	if h.Status != "ok" {
		t.Fatalf("health %+v", h)
	}
	e.must(200, "GET", "/v1/whoami", e.key["root"], nil, nil)
	e.call("GET", "/v1/licenses?limit=0", e.key["root"], nil, nil)
	_, raw := e.call("GET", "/metrics", "", nil, nil)
	for _, want := range []string{
		`tollgate_http_requests_total{code="200",method="GET",route="/v1/whoami"} 1`,
		`tollgate_http_requests_total{code="400",method="GET",route="/v1/licenses"} 1`,
		"# TYPE tollgate_http_request_duration_seconds histogram",
		`tollgate_http_request_duration_seconds_count{method="GET",route="/v1/whoami",status_class="2xx"} 1`,
	} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("metrics lack %q:\n%s", want, raw)
		}
	}
}

func TestLicenseLifecycleOverAPI(t *testing.T) {
	e := newAPIEnv(t)
	lic := e.world()
	acme, dist, root := e.key["acme"], e.key["dist"], e.key["root"]
	var tok wire.LicenseToken
	e.must(200, "GET", "/v1/licenses/"+lic.ID+"/token", acme, nil, &tok)
	trust, _ := e.ks.Trust()
	if tl, err := token.Verify(trust, tok.Token, e.clk.Now()); err != nil || tl.DeviceID != "dev-1" {
		t.Fatalf("token: %+v %v", tl, err)
	}
	var toks wire.TokenList
	e.must(200, "GET", "/v1/devices/dev-1/tokens", acme, nil, &toks)
	if len(toks.Tokens) != 1 || toks.Tokens[0].Token != tok.Token {
		t.Fatalf("device tokens %+v", toks)
	}
	// Licenses by serial, and list filters with pagination.
	var bySerial wire.License
	e.must(200, "GET", "/v1/licenses/"+lic.Serial, acme, nil, &bySerial)
	if bySerial.ID != lic.ID || bySerial.Status != "active" {
		t.Fatalf("by serial: %+v", bySerial)
	}
	var page1, page2 wire.LicenseList
	e.must(200, "GET", "/v1/licenses?customer=acme&limit=2", acme, nil, &page1)
	e.must(200, "GET", "/v1/licenses?customer=acme&limit=2&cursor="+page1.NextCursor, acme, nil, &page2)
	if len(page1.Licenses) != 2 || page1.NextCursor == "" || len(page2.Licenses) != 1 || page2.NextCursor != "" {
		t.Fatalf("pages: %d (%q), %d (%q)", len(page1.Licenses), page1.NextCursor, len(page2.Licenses), page2.NextCursor)
	}
	var active wire.LicenseList
	e.must(200, "GET", "/v1/licenses?status=active&device=dev-1", acme, nil, &active)
	if len(active.Licenses) != 1 || active.Licenses[0].ID != lic.ID {
		t.Fatalf("status filter: %+v", active)
	}
	// Sell and return between dist and acme.
	var stock wire.LicenseList
	e.must(201, "POST", "/v1/licenses", root, wire.CreateLicenseRequest{CustomerID: "dist", Type: "standard", Billing: "days", Days: 30, Models: []string{"*"}, Count: 3}, &stock)
	var sale wire.Sale
	e.must(200, "POST", "/v1/sales/sell", dist, wire.BatchRequest{Customer: "acme", Count: 2}, &sale)
	if sale.Kind != "sell" || len(sale.LicenseIDs) != 2 {
		t.Fatalf("sale %+v", sale)
	}
	e.must(200, "POST", "/v1/sales/return", acme, wire.BatchRequest{IDs: sale.LicenseIDs[:1]}, &sale)
	var sales wire.SaleList
	e.must(200, "GET", "/v1/sales", acme, nil, &sales)
	if len(sales.Sales) != 2 || sales.Sales[0].Kind != "return" {
		t.Fatalf("sales %+v", sales)
	}
	// Transfer and revoke move the revocation list.
	var rl0, rl1 wire.RevocationHead
	e.must(200, "GET", "/v1/revocation-list", acme, nil, &rl0)
	var tr wire.TransferResponse
	if code, raw := e.call("POST", "/v1/licenses/"+lic.ID+"/transfer", acme, wire.CustomerRef{To: "acme"}, nil); code != 400 {
		t.Fatalf("transfer to the owner itself: %d %s", code, raw)
	}
	e.must(201, "POST", "/v1/customers", acme, wire.CreateCustomerRequest{ID: "acme-sub", Name: "Sub"}, nil)
	e.must(200, "POST", "/v1/licenses/"+lic.ID+"/transfer", acme, wire.CustomerRef{To: "acme-sub"}, &tr)
	if tr.Old.Status != "transferred" || tr.New.CustomerID != "acme-sub" || tr.New.ID == lic.ID {
		t.Fatalf("transfer %+v", tr)
	}
	e.must(200, "POST", "/v1/licenses/"+tr.New.ID+"/revoke", root, nil, nil)
	e.must(200, "GET", "/v1/revocation-list", acme, nil, &rl1)
	var dl wire.RevocationList // the transferred id was bound to dev-1
	e.must(200, "GET", "/v1/devices/dev-1/revocation-list", acme, nil, &dl)
	rl, err := token.ParseRevocationList(trust, dl.Token)
	if err != nil || rl1.Seq <= rl0.Seq || dl.Seq != rl1.Seq || rl.DeviceID != "dev-1" || !rl.LicenseRevoked(lic.ID) {
		t.Fatalf("revocation list %d → %d, %+v, %v", rl0.Seq, rl1.Seq, rl, err)
	}
	var audit wire.AuditList
	e.must(200, "GET", "/v1/audit?limit=5", root, nil, &audit)
	if len(audit.Entries) != 5 || audit.Entries[0].Action != "license.revoke" || audit.NextCursor == "" {
		t.Fatalf("audit %+v", audit.Entries)
	}
}

// TestCapacityLicenseOverAPI: a capacity license waits as pending_start
// with no token, starts when the gateway's third child is registered, and
// a child beyond max_children is refused with capacity_exceeded.
func TestCapacityLicenseOverAPI(t *testing.T) {
	e := newAPIEnv(t)
	e.world()
	acme, dist := e.key["acme"], e.key["dist"]
	e.must(201, "POST", "/v1/devices", acme, wire.CreateDeviceRequest{ID: "gw-1", CustomerID: "acme", Model: "sensor-gw", PublicKey: newPublicKey(t)}, nil)
	var ls wire.LicenseList
	e.must(201, "POST", "/v1/licenses", dist, wire.CreateLicenseRequest{CustomerID: "acme", Type: "standard", Billing: "term",
		Models: []string{"sensor-*"}, StartAtChildren: 2, MaxChildren: 3}, &ls)
	lic := ls.Licenses[0]
	if lic.StartAtChildren != 2 || lic.MaxChildren != 3 || lic.Start != nil {
		t.Fatalf("created: %+v", lic)
	}
	var b wire.BindResponse
	code, raw := e.call("POST", "/v1/licenses/"+lic.ID+"/bind", acme, wire.BindRequest{DeviceID: "gw-1"}, &b)
	if code != 200 || b.License.Status != "pending_start" || b.Token != nil || strings.Contains(string(raw), `"token"`) {
		t.Fatalf("bind: %s", raw)
	}
	if code, raw := e.call("GET", "/v1/licenses/"+lic.ID+"/token", acme, nil, nil); code != 404 {
		t.Fatalf("token of a pending license: %d %s", code, raw)
	}
	var pending wire.LicenseList
	e.must(200, "GET", "/v1/licenses?status=pending_start", acme, nil, &pending)
	if len(pending.Licenses) != 1 || pending.Licenses[0].ID != lic.ID {
		t.Fatalf("status=pending_start: %+v", pending.Licenses)
	}
	for _, id := range []string{"c-1", "c-2", "c-3"} {
		e.must(201, "POST", "/v1/devices", acme, wire.CreateDeviceRequest{ID: id, CustomerID: "acme", Model: "sensor-c", PublicKey: newPublicKey(t), GatewayID: "gw-1"}, nil)
	}
	var got wire.License
	e.must(200, "GET", "/v1/licenses/"+lic.ID, acme, nil, &got)
	if got.Status != "active" || got.ActivatedAt == nil || got.Start == nil || got.Version <= b.License.Version {
		t.Fatalf("after the children: %+v", got)
	}
	e.must(200, "GET", "/v1/licenses/"+lic.ID+"/token", acme, nil, nil)
	changes := e.auditCount()
	code, raw = e.call("POST", "/v1/devices", acme, wire.CreateDeviceRequest{ID: "c-4", CustomerID: "acme", Model: "sensor-c", PublicKey: newPublicKey(t), GatewayID: "gw-1"}, nil)
	if code != 409 || errCode(raw) != "capacity_exceeded" || e.auditCount() != changes {
		t.Fatalf("fourth child: %d %s", code, raw)
	}
}
