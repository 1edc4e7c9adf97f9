package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/internal/testkit/harness"
	"github.com/tollgate-iot/tollgate/shared/clock"
)

// serverPkgs are tollgate-server and tollgatectl, built on first use.
var serverPkgs = []string{"github.com/tollgate-iot/tollgate/server/cmd/tollgate-server", "github.com/tollgate-iot/tollgate/server/cmd/tollgatectl"}

func buildServer(t *testing.T) (server, ctl string) {
	t.Helper()
	if _, err := harness.Build(serverPkgs...); err != nil {
		t.Fatal(err)
	}
	return harness.Binary(serverPkgs[0]), harness.Binary(serverPkgs[1])
}

// licenseServer is a running `tollgate-server serve` with an admin key.
type licenseServer struct {
	t     *testing.T
	ctl   string
	url   string
	admin string
	trust string // the server's trust bundle file
}

func startLicenseServer(t *testing.T) *licenseServer {
	t.Helper()
	s, _ := serveLicenseServer(t, false)
	return s
}

// serveLicenseServer inits a server in a temporary directory and runs
// `serve` on a free loopback HTTP port with the extra args; with wantMQTT
// it also waits for, and returns, what serve printed after "mqtt: ".
func serveLicenseServer(t *testing.T, wantMQTT bool, args ...string) (*licenseServer, string) {
	t.Helper()
	bin, ctl := buildServer(t)
	data := filepath.Join(t.TempDir(), "server")
	var init struct {
		AdminAPIKey string `json:"admin_api_key"`
	}
	out := harness.MustRun(t, 0, harness.Options{Inherit: true}, bin, "init", "--data", data, "--name", "Vendor", "-o", "json")
	if json.Unmarshal([]byte(out), &init) != nil || init.AdminAPIKey == "" {
		t.Fatalf("server init: %s", out)
	}
	p := harness.Start(t, bin, append([]string{"serve", "--data", data, "--http", "127.0.0.1:0"}, args...), harness.Options{Inherit: true})
	s := &licenseServer{t: t, ctl: ctl, admin: init.AdminAPIKey}
	s.url = p.WaitLine(t, "http: ", startTimeout)
	var mqttAddr string
	if wantMQTT {
		mqttAddr = p.WaitLine(t, "mqtt: ", startTimeout)
	}
	trust := filepath.Join(filepath.Dir(data), "trust.json")
	harness.MustRun(t, 0, harness.Options{Inherit: true}, bin, "trust", "--data", data, "--out", trust)
	s.trust = trust
	return s, mqttAddr
}

// run runs tollgatectl with key and decodes its JSON output into out.
func (s *licenseServer) run(key string, out any, args ...string) {
	s.t.Helper()
	r := harness.Run(0, harness.Options{Inherit: true, Env: []string{"TOLLGATE_SERVER=" + s.url, "TOLLGATE_API_KEY=" + key}}, s.ctl, append(args, "-o", "json")...)
	if r.Err != nil {
		s.t.Fatalf("tollgatectl %v: %v: %s", args, r.Err, r.Stderr)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(r.Stdout), out); err != nil {
			s.t.Fatalf("tollgatectl %v: %v: %s", args, err, r.Stdout)
		}
	}
}

// serverSync is what `tollgatectl device sync DEV -o json` shows.
type serverSync struct {
	AckedSeq   int64 `json:"acked_seq"`
	HighestSeq int64 `json:"highest_seq"`
	Forks      int64 `json:"fork_count"`
	Overdrafts int64 `json:"overdraft_count"`
	Gaps       []any `json:"gaps"`
	Last24h    struct {
		Accepted, Overage, Refused int64
	} `json:"last_24h"`
	Hourly []struct {
		Hour     string `json:"hour"`
		Accepted int64  `json:"accepted"`
	} `json:"hourly"`
}

type serverDeductions struct {
	Deductions []struct {
		Seq      int64  `json:"seq"`
		DeviceID string `json:"device_id"`
		Failed   bool   `json:"failed"`
	} `json:"deductions"`
}

// customer creates customer acme with an admin and returns its key.
func (s *licenseServer) customer() string {
	s.t.Helper()
	s.run(s.admin, nil, "customer", "create", "--id", "acme", "--name", "Acme", "--email", "it@acme.test")
	var user struct {
		APIKey string `json:"api_key"`
	}
	s.run(s.admin, &user, "user", "create", "--customer", "acme", "--email", "it@acme.test", "--role", "admin")
	return user.APIKey
}

// provision registers the agent's device under acme and binds a 3-day
// license to it; it returns the license id and its token.
func (s *licenseServer) provision(acme, dev, pub string, deviceArgs ...string) (license, tok string) {
	s.t.Helper()
	s.run(acme, nil, append([]string{"device", "create", "--customer", "acme", "--id", dev, "--model", "sensor-a",
		"--public-key", pub}, deviceArgs...)...)
	var lics struct {
		Licenses []struct {
			ID string `json:"id"`
		} `json:"licenses"`
	}
	s.run(s.admin, &lics, "license", "create", "--customer", "acme", "--type", "standard", "--billing", "days",
		"--days", "3", "--models", "sensor-*", "--max-samples-per-hour", "60")
	license = lics.Licenses[0].ID
	s.run(acme, nil, "license", "bind", license, "--device", dev)
	var tk struct {
		Token string `json:"token"`
	}
	s.run(acme, &tk, "license", "token", license)
	return license, tk.Token
}

// initAgent initializes an agent for dev with the server's trust and
// activates a freshly bound license; it returns the data dir and license.
func (s *licenseServer) initAgent(acme, dev string) (data, license string) {
	s.t.Helper()
	data = filepath.Join(s.t.TempDir(), dev)
	var init map[string]string
	out := cmdRun(s.t, "init", "--data", data, "--device-id", dev, "--model", "sensor-a", "--trust", s.trust, "-o", "json")
	if err := json.Unmarshal([]byte(out), &init); err != nil {
		s.t.Fatal(err)
	}
	license, tok := s.provision(acme, dev, init["public_key"])
	cmdRun(s.t, "activate", "--data", data, tok)
	return data, license
}

// TestSyncWithLicenseServer runs the real server and agent binaries: the
// agent deducts a day and counts samples offline, `tollgate-agent sync`
// (through the running agent) reports them, the server holds each
// deduction once and the counts, a second sync changes nothing, and a
// revocation reaches the agent at its next sync.
func TestSyncWithLicenseServer(t *testing.T) {
	t.Parallel()
	srv := startLicenseServer(t)
	acme := srv.customer()
	data, license := srv.initAgent(acme, "press-01")

	// No server reachable yet: sync fails with a retryable network code.
	if _, err := execAgent("sync", "--data", data, "--server", "http://127.0.0.1:1"); err == nil ||
		!strings.Contains(err.Error(), "error: network: ") {
		t.Fatalf("sync to a closed port: %v", err)
	}

	p := start(t, data, "--server", srv.url)
	defer p.stop(t)
	if rs := postBatch(t.Context(), p.addr, 1, 5); len(rs) != 5 || !rs[0].Accepted || !rs[4].Accepted {
		t.Fatalf("samples: %+v", rs)
	}
	var res struct {
		AckedSeq int64 `json:"acked_seq"`
	}
	if err := json.Unmarshal([]byte(cmdRun(t, "sync", "--data", data, "-o", "json")), &res); err != nil || res.AckedSeq != 1 {
		t.Fatalf("sync: %+v %v", res, err)
	}
	first := srv.syncView(acme, "press-01")
	if first.AckedSeq != 1 || first.HighestSeq != 1 || first.Forks != 0 || first.Overdrafts != 0 || len(first.Gaps) != 0 ||
		first.Last24h.Accepted != 5 || len(first.Hourly) != 1 || first.Hourly[0].Accepted != 5 {
		t.Fatalf("server after sync: %+v", first)
	}
	var ded serverDeductions
	srv.run(acme, &ded, "license", "deductions", license)
	if len(ded.Deductions) != 1 || ded.Deductions[0].Seq != 1 || ded.Deductions[0].DeviceID != "press-01" || ded.Deductions[0].Failed {
		t.Fatalf("server deductions: %+v", ded)
	}
	var st struct {
		LastSync *string `json:"last_sync"`
	}
	if json.Unmarshal([]byte(cmdRun(t, "status", "--data", data, "-o", "json")), &st); st.LastSync == nil {
		t.Fatal("status shows no last_sync after a sync")
	}

	// Again: nothing changes on the server.
	cmdRun(t, "sync", "--data", data)
	again := srv.syncView(acme, "press-01")
	srv.run(acme, &ded, "license", "deductions", license)
	if fmt.Sprint(again) != fmt.Sprint(first) || len(ded.Deductions) != 1 {
		t.Fatalf("second sync changed the server: %+v → %+v, %d deductions", first, again, len(ded.Deductions))
	}

	// A revocation reaches the agent at its next sync.
	if rs := postBatch(t.Context(), p.addr, 6, 1); len(rs) != 1 || !rs[0].Accepted {
		t.Fatalf("sample before revoke: %+v", rs)
	}
	srv.run(srv.admin, nil, "license", "revoke", license)
	cmdRun(t, "sync", "--data", data)
	if rs := postBatch(t.Context(), p.addr, 7, 1); len(rs) != 1 || rs[0].Accepted || rs[0].Reason != "revoked" {
		t.Fatalf("sample after revoke and sync: %+v", rs)
	}
	if final := srv.syncView(acme, "press-01"); final.Last24h.Accepted != 6 || final.HighestSeq != 1 {
		t.Fatalf("server after the last sync: %+v", final)
	}
}

func (s *licenseServer) syncView(key, dev string) serverSync {
	s.t.Helper()
	var v serverSync
	s.run(key, &v, "device", "sync", dev)
	return v
}

// TestSyncFromFastClockIsFresh: an agent whose effective time ran ahead
// (run --clock-speed) deducts days offline; its report carries its real
// wall clock (sent_wall), which the server judges freshness on, so the
// server takes the deductions at their effective times.
func TestSyncFromFastClockIsFresh(t *testing.T) {
	t.Parallel()
	srv := startLicenseServer(t)
	acme := srv.customer()
	data, license := srv.initAgent(acme, "press-02")
	origin := clock.Real{}.Now().UTC().Format(time.RFC3339)
	// 100,000×: a day passes in 0.86 s.
	p := start(t, data, "--clock-speed", "100000", "--clock-origin", origin)
	for i := 0; i < 100; i++ { // at most 10 s
		rs := postBatch(t.Context(), p.addr, i, 1)
		if len(rs) == 1 && rs[0].Reason == "no_days" {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.stop(t)
	var st struct {
		DeductionSeq int64 `json:"deduction_seq"`
	}
	if err := json.Unmarshal([]byte(cmdRun(t, "status", "--data", data, "-o", "json")), &st); err != nil || st.DeductionSeq != 4 { // 3 paid days, then the failed one
		t.Fatalf("deductions on the fast clock: %d, %v", st.DeductionSeq, err)
	}
	if out, err := execAgent("sync", "--data", data, "--server", srv.url); err != nil {
		t.Fatalf("sync from a clock days ahead: %v %s", err, out)
	}
	var ded serverDeductions
	srv.run(acme, &ded, "license", "deductions", license)
	if n := len(ded.Deductions); n != 4 || ded.Deductions[3].Seq != 4 || !ded.Deductions[3].Failed ||
		ded.Deductions[0].Failed || ded.Deductions[1].Failed || ded.Deductions[2].Failed {
		t.Fatalf("server holds %+v, want the 3 days of the fast clock charged and the fourth failed", ded)
	}
	// The failed fourth day blacklisted the device on the server too. The
	// answer's newer tokens (re-signed after each charged day, no days
	// left) do not lift the agent's own blacklist, which names its cause.
	var dev struct {
		Blacklisted bool `json:"blacklisted"`
	}
	srv.run(acme, &dev, "device", "show", "press-02")
	var after struct {
		Blacklisted     bool   `json:"blacklisted"`
		BlacklistReason string `json:"blacklist_reason"`
		FailedDays      int64  `json:"failed_days"`
	}
	if err := json.Unmarshal([]byte(cmdRun(t, "status", "--data", data, "-o", "json")), &after); err != nil ||
		!dev.Blacklisted || !after.Blacklisted || after.BlacklistReason != "no_days" || after.FailedDays != 1 {
		t.Fatalf("after the failed day synced: server blacklisted %v, agent %+v (%v); want both, reason no_days, 1 failed day", dev.Blacklisted, after, err)
	}
}

// TestGatewaySyncReportsChildCounts: a gateway's report carries its
// children's hourly counts and day deductions, which the server keeps
// under each child.
func TestGatewaySyncReportsChildCounts(t *testing.T) {
	t.Parallel()
	srv := startLicenseServer(t)
	acme := srv.customer()
	gw, _ := srv.initAgent(acme, "gw-01")
	var child map[string]string
	out := cmdRun(t, "init", "--data", filepath.Join(t.TempDir(), "child"), "--device-id", "child-01",
		"--model", "sensor-a", "--trust", srv.trust, "-o", "json")
	if err := json.Unmarshal([]byte(out), &child); err != nil {
		t.Fatal(err)
	}
	_, tok := srv.provision(acme, "child-01", child["public_key"], "--gateway", "gw-01")
	cfg := filepath.Join(t.TempDir(), "gw.json")
	b, _ := json.Marshal(map[string]any{"children": []map[string]string{
		{"id": "child-01", "model": "sensor-a", "public_key": child["public_key"]}}})
	os.WriteFile(cfg, b, 0o600)
	cmdRun(t, "activate", "--data", gw, "--config", cfg, tok)
	p := start(t, gw, "--config", cfg, "--server", srv.url)
	defer p.stop(t)
	body := `{"samples":[{"data":{"n":1}},{"data":{"n":2}},` +
		`{"device_id":"child-01","data":{"n":1}},{"device_id":"child-01","data":{"n":2}},{"device_id":"child-01","data":{"n":3}}]}`
	resp, err := httpClient.Post("http://"+p.addr+"/v1/samples", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cmdRun(t, "sync", "--data", gw)
	if v := srv.syncView(acme, "gw-01"); v.Last24h.Accepted != 2 || v.HighestSeq != 1 {
		t.Fatalf("gateway on the server: %+v", v)
	}
	// The child's counts arrive, and its own day deduction, reconciled
	// under the child's (device, seq) and acknowledged.
	if v := srv.syncView(acme, "child-01"); v.Last24h.Accepted != 3 || v.HighestSeq != 1 || v.AckedSeq != 1 {
		t.Fatalf("child on the server: %+v", v)
	}
}
