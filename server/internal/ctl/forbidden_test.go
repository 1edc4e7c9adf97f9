package ctl

import (
	"crypto/ed25519"
	"encoding/base64"
	"strings"
	"testing"
)

// TestForbiddenNamesTheCodeOnceAndTheWayForward: the vendor admin creating
// a device under a customer that keeps its records to itself gets one line
// with the code once, the customer, and who may do it or which setting
// allows it (real router, real ledger).
func TestForbiddenNamesTheCodeOnceAndTheWayForward(t *testing.T) {
	realServer(t)
	key, _, _ := ed25519.GenerateKey(nil)
	pub := base64.RawURLEncoding.EncodeToString(key)
	mustRun(t, "customer", "create", "--id", "acme", "--name", "Acme", "--parent", "root")
	code, _, errOut := run("device", "create", "--customer", "acme", "--id", "press-01", "--model", "sensor-a",
		"--public-key", pub)
	if code != 1 || strings.Count(errOut, "\n") != 1 {
		t.Fatalf("exit %d, stderr %q: want exit 1 and one line", code, errOut)
	}
	if strings.Count(errOut, "forbidden") != 1 || !strings.HasPrefix(errOut, "error: forbidden: customer acme ") {
		t.Errorf("the code is not named exactly once: %q", errOut)
	}
	if strings.Contains(errOut, "manage its licenses") {
		t.Errorf("a device create speaks of licenses: %q", errOut)
	}
	if !strings.Contains(errOut, "an admin of acme may do this") || !strings.Contains(errOut, "tollgatectl customer set acme --allow-superior-manage=true") {
		t.Errorf("no way forward named: %q", errOut)
	}
}
