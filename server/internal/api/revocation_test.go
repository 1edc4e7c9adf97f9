package api

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/tollgate-iot/tollgate/shared/token"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// TestRevocationListHidesOtherTenants: acme blacklists its device and has
// a bound license revoked. Beta — with its admin API key, and with its
// device's own sync answer — never learns either id: the list endpoint
// names no ids, acme's device list is not found for beta, and the list in
// beta's sync answer is signed for beta's device with beta's entries only.
// Acme still gets its own entries, on its device's list and sync answer.
func TestRevocationListHidesOtherTenants(t *testing.T) {
	e := newSyncEnv(t, 30)
	acmeLic := e.lic["dev-a"]
	e.must(200, "POST", "/v1/devices/dev-a/blacklist", e.key["acme"], wire.BlacklistRequest{Reason: "stolen"}, nil)
	e.must(200, "POST", "/v1/licenses/"+acmeLic+"/revoke", e.key["root"], nil, nil)
	e.must(200, "POST", "/v1/licenses/"+e.lic["spare-beta"]+"/bind", e.key["beta"], wire.BindRequest{DeviceID: "dev-b"}, nil)
	e.must(200, "POST", "/v1/licenses/"+e.lic["spare-beta"]+"/suspend", e.key["root"], nil, nil)
	secrets := []string{"dev-a", acmeLic}
	trust, err := e.ks.Trust()
	if err != nil {
		t.Fatal(err)
	}
	// leaks fails if text, or the signed list it is, names an acme id.
	leaks := func(what, text string) {
		t.Helper()
		names := []string{text}
		if text != "" && strings.HasPrefix(text, "tg1.rev.") {
			rl, err := token.ParseRevocationList(trust, text)
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			names = slices.Concat(rl.RevokedLicenses, rl.SuspendedLicenses, rl.BlacklistedDevices, rl.SupersededLicenses)
		}
		for _, s := range secrets {
			for _, n := range names {
				if strings.Contains(n, s) {
					t.Fatalf("%s names acme's %s", what, s)
				}
			}
		}
	}

	var head wire.RevocationList // the head, and whatever else the answer carries
	code, raw := e.call("GET", "/v1/revocation-list", e.key["beta"], nil, &head)
	if code != http.StatusOK {
		t.Fatalf("GET /v1/revocation-list as beta: %d %s", code, raw)
	}
	leaks("GET /v1/revocation-list as beta", string(raw))
	leaks("the list in GET /v1/revocation-list as beta", head.Token)
	if code, raw := e.call("GET", "/v1/devices/dev-a/revocation-list", e.key["beta"], nil, nil); code != http.StatusNotFound {
		t.Fatalf("beta reads acme's device list: %d %s", code, raw)
	}

	var own wire.RevocationList
	e.must(200, "GET", "/v1/devices/dev-b/revocation-list", e.key["beta"], nil, &own)
	leaks("beta's device list", own.Token)
	rl, err := token.ParseRevocationList(trust, own.Token)
	if err != nil || rl.DeviceID != "dev-b" || !rl.LicenseSuspended(e.lic["spare-beta"]) || len(rl.RevokedLicenses)+len(rl.BlacklistedDevices) != 0 {
		t.Fatalf("beta's device list %+v, %v; want dev-b's suspension only", rl, err)
	}

	resp := e.sync(e.report("dev-b"))
	leaks("dev-b's sync answer", resp.RevocationList)
	rl, err = token.ParseRevocationList(trust, resp.RevocationList)
	if err != nil || rl.DeviceID != "dev-b" || rl.DeviceBlacklisted("dev-a") || rl.LicenseRevoked(acmeLic) || !rl.LicenseSuspended(e.lic["spare-beta"]) {
		t.Fatalf("dev-b's sync list %+v, %v", rl, err)
	}

	var acme wire.RevocationList
	e.must(200, "GET", "/v1/devices/dev-a/revocation-list", e.key["acme"], nil, &acme)
	rl, err = token.ParseRevocationList(trust, acme.Token)
	if err != nil || rl.DeviceID != "dev-a" || !rl.DeviceBlacklisted("dev-a") || !rl.LicenseRevoked(acmeLic) || rl.LicenseSuspended(e.lic["spare-beta"]) {
		t.Fatalf("acme's device list %+v, %v; want its own entries and none of beta's", rl, err)
	}
}

// TestSyncLeavesOutTheListTheAgentHolds: a sync whose report says the agent
// holds the list at the current seq gets no list back (nothing it holds
// could change at that seq); one that holds none, or an older seq, gets
// the device's list at the head. A report claiming the current seq right
// after a revocation names an old seq and so still gets the new list.
func TestSyncLeavesOutTheListTheAgentHolds(t *testing.T) {
	e := newSyncEnv(t, 30)
	trust, err := e.ks.Trust()
	if err != nil {
		t.Fatal(err)
	}
	e.must(200, "POST", "/v1/licenses/"+e.lic["spare-beta"]+"/bind", e.key["beta"], wire.BindRequest{DeviceID: "dev-b"}, nil)
	e.must(200, "POST", "/v1/licenses/"+e.lic["spare-beta"]+"/suspend", e.key["root"], nil, nil)
	var head wire.RevocationList
	e.must(200, "GET", "/v1/revocation-list", e.key["beta"], nil, &head)

	first := e.sync(e.report("dev-b"))
	rl, err := token.ParseRevocationList(trust, first.RevocationList)
	if err != nil || rl.Seq != head.Seq || !rl.LicenseSuspended(e.lic["spare-beta"]) {
		t.Fatalf("first sync (holds no list): list %+v, %v; want dev-b's at seq %d", rl, err, head.Seq)
	}

	r := e.report("dev-b")
	r.RevocationSeq = head.Seq
	if got := e.sync(r); got.RevocationList != "" {
		t.Fatalf("sync holding seq %d (the head) got a list again: %.60s…", head.Seq, got.RevocationList)
	}

	r = e.report("dev-b")
	r.RevocationSeq = head.Seq - 1
	if got := e.sync(r); got.RevocationList == "" {
		t.Fatalf("sync holding seq %d (older than the head %d) got no list", head.Seq-1, head.Seq)
	}

	e.must(200, "POST", "/v1/licenses/"+e.lic["dev-b"]+"/revoke", e.key["root"], nil, nil)
	r = e.report("dev-b")
	r.RevocationSeq = head.Seq
	after := e.sync(r)
	rl, err = token.ParseRevocationList(trust, after.RevocationList)
	if err != nil || rl.Seq <= head.Seq || !rl.LicenseRevoked(e.lic["dev-b"]) {
		t.Fatalf("sync holding seq %d after a revocation: list %+v, %v; want the revocation at a later seq", head.Seq, rl, err)
	}
}
