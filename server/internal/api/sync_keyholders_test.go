package api

import (
	"net/http"
	"strings"
	"testing"
)

// TestSyncClaimingAnotherDeviceWithACachedKeyRefused: a tampered device
// with its own valid key — already synced, so its key is parsed and found
// by fingerprint — signs a report that claims another device of another
// customer. The head names its own key id, whose holder is not the device
// the report claims: the claimed device's own key is read and the
// signature does not verify. Nothing of the report is applied.
func TestSyncClaimingAnotherDeviceWithACachedKeyRefused(t *testing.T) {
	e := newSyncEnv(t, 30)
	own := e.report("dev-a")
	own.Deductions = append(own.Deductions, deduction(1, e.lic["dev-a"], e.clk.Now(), 30))
	e.sync(own) // dev-a's key is now cached by its fingerprint
	before := e.availableDays(e.lic["dev-b"])
	forged := e.report("dev-b")
	forged.Deductions = append(forged.Deductions, deduction(1, e.lic["dev-b"], e.clk.Now(), before))
	code, body := e.post(sign(t, e.dev["dev-a"], forged), "text/plain")
	if code != http.StatusUnauthorized && code != http.StatusBadRequest || !strings.Contains(body, "signature") {
		t.Fatalf("dev-a's report as dev-b: %d %s; want refused for its signature", code, body)
	}
	if got := e.availableDays(e.lic["dev-b"]); got != before {
		t.Fatalf("dev-b's license: %d days after the forged report, %d before", got, before)
	}
	if s := e.status("dev-b"); s.Syncs != 0 {
		t.Fatalf("dev-b synced %d times by a report it did not sign", s.Syncs)
	}
}
