package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate-iot/tollgate/agent/internal/testkit"
)

// agentStatus is what the test reads of `status -o json`.
type agentStatus struct {
	Licenses []struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	} `json:"licenses"`
}

type activation struct {
	Imported []struct {
		Kind   string `json:"kind"`
		ID     string `json:"id"`
		Result string `json:"result"`
	} `json:"imported"`
}

func (a activation) license() (id, result string) {
	for _, im := range a.Imported {
		if im.Kind == "license" {
			return im.ID, im.Result
		}
	}
	return "", ""
}

// initOnline initializes an agent for dev that knows the server (init --server).
func (s *licenseServer) initOnline(dev string) string {
	s.t.Helper()
	data := filepath.Join(s.t.TempDir(), dev)
	cmdRun(s.t, "init", "--data", data, "--device-id", dev, "--model", "sensor-a", "--server", s.url, "--trust", s.trust)
	return data
}

func activateJSON(t *testing.T, args ...string) activation {
	t.Helper()
	var a activation
	out := cmdRun(t, append([]string{"activate", "-o", "json"}, args...)...)
	if err := json.Unmarshal([]byte(out), &a); err != nil {
		t.Fatalf("activate -o json: %v: %s", err, out)
	}
	return a
}

// TestOnlineActivationBySerial runs the real server and agent binaries:
// init --server, activate SERIAL registers the device under the license's
// customer and binds the license; the token is active and samples pass; a
// retry, also through the running agent, is the same answer; a wrong
// serial and a serial bound elsewhere are refused by name.
func TestOnlineActivationBySerial(t *testing.T) {
	t.Parallel()
	srv := startLicenseServer(t)
	acme := srv.customer()
	var lics struct {
		Licenses []struct {
			ID     string `json:"id"`
			Serial string `json:"serial"`
		} `json:"licenses"`
	}
	srv.run(srv.admin, &lics, "license", "create", "--customer", "acme", "--type", "standard", "--billing", "term",
		"--models", "sensor-*", "--max-samples-per-hour", "60")
	lic := lics.Licenses[0]
	data := srv.initOnline("press-07")

	if _, err := execAgent("activate", "--data", data, "TG-0000-0000"); err == nil || !strings.Contains(err.Error(), "error: unknown_code: ") {
		t.Fatalf("activate an unknown serial: %v", err)
	}
	a := activateJSON(t, "--data", data, strings.ToLower(lic.Serial))
	if id, res := a.license(); id != lic.ID || res != "stored" {
		t.Fatalf("activate SERIAL imported %+v", a)
	}
	var st agentStatus
	if err := json.Unmarshal([]byte(cmdRun(t, "status", "--data", data, "-o", "json")), &st); err != nil ||
		len(st.Licenses) != 1 || st.Licenses[0].ID != lic.ID || st.Licenses[0].Status != "active" {
		t.Fatalf("status after activation: %+v %v", st, err)
	}
	var dev struct {
		CustomerID string `json:"customer_id"`
		Model      string `json:"model"`
	}
	srv.run(acme, &dev, "device", "show", "press-07")
	var shown struct {
		DeviceID string `json:"device_id"`
		Status   string `json:"status"`
	}
	srv.run(acme, &shown, "license", "show", lic.Serial)
	if dev.CustomerID != "acme" || dev.Model != "sensor-a" || shown.DeviceID != "press-07" || shown.Status != "active" {
		t.Fatalf("server: device %+v, license %+v", dev, shown)
	}

	p := start(t, data)
	if rs := postBatch(t.Context(), p.addr, 1, 3); len(rs) != 3 || !rs[0].Accepted || !rs[2].Accepted {
		t.Fatalf("samples after online activation: %+v", rs)
	}
	// Through the running agent's control API: a retry, the same answer.
	running := activateJSON(t, "--data", data, lic.Serial)
	if id, res := running.license(); id != lic.ID || res != "unchanged" {
		t.Fatalf("activate through the running agent imported %+v", running)
	}
	if rs := postBatch(t.Context(), p.addr, 4, 1); len(rs) != 1 || !rs[0].Accepted {
		t.Fatalf("samples after the retry: %+v", rs)
	}
	if _, err := execAgent("activate", "--data", data, "TG-0000-0001"); err == nil || !strings.Contains(err.Error(), "error: unknown_code: ") {
		t.Fatalf("unknown serial through the running agent: %v", err)
	}
	p.stop(t)

	again := activateJSON(t, "--data", data, lic.Serial)
	if id, res := again.license(); id != lic.ID || res != "unchanged" {
		t.Fatalf("a retry imported %+v", again)
	}
	other := srv.initOnline("press-08")
	if _, err := execAgent("activate", "--data", other, lic.Serial); err == nil || !strings.Contains(err.Error(), "error: license_bound: ") {
		t.Fatalf("another device redeems a bound serial: %v", err)
	}
}

// TestOnlineActivationByEnrollmentCode: a customer's enrollment code with
// a license pool registers a device and binds one of the customer's
// licenses; once its uses are taken, the next device is refused.
func TestOnlineActivationByEnrollmentCode(t *testing.T) {
	t.Parallel()
	srv := startLicenseServer(t)
	acme := srv.customer()
	srv.run(srv.admin, nil, "license", "create", "--customer", "acme", "--type", "standard", "--billing", "term",
		"--models", "sensor-*", "--max-samples-per-hour", "60")
	var en struct {
		Code string `json:"code"`
	}
	srv.run(acme, &en, "enrollment", "create", "--customer", "acme", "--uses", "1", "--license-pool", "--expires-in", "7d")
	data := srv.initOnline("press-09")
	a := activateJSON(t, "--data", data, en.Code)
	if id, res := a.license(); id == "" || res != "stored" {
		t.Fatalf("activate CODE imported %+v", a)
	}
	p := start(t, data)
	if rs := postBatch(t.Context(), p.addr, 1, 1); len(rs) != 1 || !rs[0].Accepted {
		t.Fatalf("samples after enrollment: %+v", rs)
	}
	p.stop(t)
	next := srv.initOnline("press-10")
	if _, err := execAgent("activate", "--data", next, en.Code); err == nil || !strings.Contains(err.Error(), "error: enrollment_used_up: ") {
		t.Fatalf("a second device on a one-use code: %v", err)
	}
}

// TestActivateCodeWithoutServer: a code with no server configured is
// refused by name, naming what would have made it work.
func TestActivateCodeWithoutServer(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	data, trust := filepath.Join(dir, "d"), filepath.Join(dir, "trust.json")
	if err := os.WriteFile(trust, testkit.TrustBundle(t), 0o644); err != nil {
		t.Fatal(err)
	}
	cmdRun(t, "init", "--data", data, "--device-id", "d-1", "--model", "sensor-a", "--trust", trust)
	_, err := execAgent("activate", "--data", data, "TG-ABCD-1234")
	if err == nil || !strings.Contains(err.Error(), "error: no_server: ") || !strings.Contains(err.Error(), "--server") {
		t.Fatalf("activate without a server: %v", err)
	}
	if _, err := execAgent("activate", "--data", data, "missing.txt"); err == nil || strings.Contains(err.Error(), "no_server") {
		t.Fatalf("a missing file is a file error, not an online activation: %v", err)
	}
}
