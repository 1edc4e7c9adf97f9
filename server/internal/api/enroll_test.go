package api

import (
	"net/http"
	"strings"
	"testing"

	"github.com/tollgate-iot/tollgate/shared/wire"
)

func TestEnrollmentRoutesFollowAuthorization(t *testing.T) {
	e := newRedeemEnv(t)
	e.world()
	in := wire.CreateEnrollmentRequest{CustomerID: "acme", Models: []string{"sensor-*"}, Uses: 5, ExpiresInSeconds: 30 * 86400}
	for name, tc := range map[string]struct {
		key    string
		status int
		code   string
	}{
		"error/operator": {e.key["acme-operator"], 403, "forbidden"},
		"error/viewer":   {e.key["acme-viewer"], 403, "forbidden"},
		"error/sibling":  {e.key["beta"], 404, "not_found"},
		"error/superior": {e.key["dist"], 403, "forbidden"}, // acme does not allow its superiors to manage
		"error/no_key":   {"", 401, "unauthenticated"},
	} {
		t.Run(name, func(t *testing.T) {
			status, raw := e.call("POST", "/v1/enrollments", tc.key, in, nil)
			if status != tc.status || errCode(raw) != tc.code {
				t.Fatalf("%d %s, want %d %s", status, raw, tc.status, tc.code)
			}
		})
	}
	var bad = []struct {
		name string
		body any
	}{
		{"error/negative_uses", wire.CreateEnrollmentRequest{CustomerID: "acme", Uses: -1}},
		{"error/expiry_too_far", wire.CreateEnrollmentRequest{CustomerID: "acme", ExpiresInSeconds: wire.MaxEnrollmentSeconds + 1}},
		{"error/bad_model", wire.CreateEnrollmentRequest{CustomerID: "acme", Models: []string{"a b"}}},
		{"error/unknown_field", `{"customer_id":"acme","code":"mine"}`},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			if status, raw := e.call("POST", "/v1/enrollments", e.key["acme"], tc.body, nil); status != 400 {
				t.Fatalf("%d %s, want 400", status, raw)
			}
		})
	}

	req, _ := http.NewRequest("POST", e.srv.URL+"/v1/enrollments", strings.NewReader(`{"customer_id":"acme","uses":2,"license_pool":true}`))
	req.Header.Set("Authorization", "Bearer "+e.key["acme"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("create: %d, Cache-Control %q", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
	var made wire.Enrollment
	e.must(201, "POST", "/v1/enrollments", e.key["acme"], in, &made)
	if !strings.HasPrefix(made.Code, "tge_") || made.Status != "active" || made.ExpiresAt == nil || made.MaxUses != 5 {
		t.Fatalf("created %+v", made)
	}
	e.redeemOK("dev-9", "sensor-b", "dev-9", made.Code)
	var list wire.EnrollmentList
	e.must(200, "GET", "/v1/enrollments?customer=acme", e.key["dist"], nil, &list)
	var listed *wire.Enrollment
	for i := range list.Enrollments {
		if list.Enrollments[i].Code != "" {
			t.Fatal("a listing shows a code")
		}
		if list.Enrollments[i].ID == made.ID {
			listed = &list.Enrollments[i]
		}
	}
	if len(list.Enrollments) != 2 || listed == nil || listed.Uses != 1 {
		t.Fatalf("listing %+v", list)
	}
	status, raw := e.call("GET", "/v1/enrollments?customer=acme", e.key["beta"], nil, nil)
	if status != 404 {
		t.Fatalf("sibling lists: %d %s", status, raw)
	}
	var d wire.Device
	e.must(200, "GET", "/v1/devices/dev-9", e.key["acme"], nil, &d)
	if d.CustomerID != "acme" {
		t.Fatalf("enrolled device %+v", d)
	}
	status, raw = e.call("POST", "/v1/enrollments/"+made.ID+"/revoke", e.key["acme-operator"], nil, nil)
	if status != 403 {
		t.Fatalf("operator revokes: %d %s", status, raw)
	}
	var revoked wire.Enrollment
	e.must(200, "POST", "/v1/enrollments/"+made.ID+"/revoke", e.key["acme"], nil, &revoked)
	if revoked.Status != "revoked" {
		t.Fatalf("revoked %+v", revoked)
	}
	_, text := e.redeemRequest("dev-10", "sensor-b", "dev-10", made.Code)
	if status, raw := e.postRedeem(text); status != 404 || errCode(raw) != "unknown_code" {
		t.Fatalf("revoked code: %d %s", status, raw)
	}
}
