package e2e

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/internal/testkit/harness"
	"github.com/tollgate-iot/tollgate/server/internal/keys"
	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/airgap"
	"github.com/tollgate-iot/tollgate/shared/clock"
	"github.com/tollgate-iot/tollgate/shared/limits"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// TestAirgapSite runs docs/design.md#air-gapped-sites with the real binaries and no network
// between agent and server at any point: the agent is initialized without
// a server, runs with none, and its environment names none. Files are the
// only link: request → activation key → activate → samples enforced over
// simulated days → usage receipt → import. Then: the same receipt twice, a
// re-export, a receipt from a restored older copy of the agent's data (a
// fork), a top-up key, every refusal the issue names, a revocation key,
// and an expired key. At the end the server's ledger, read at a time after
// the simulated days, holds every deduction and hourly count the agent
// made.
//
// Simulated days: the agent's clock runs from --clock-origin 30 days back
// at a speed chosen so that it reads the wanted day when the process
// starts (and runs barely faster than real time while it does), so every
// sample lands at a known time.
func TestAirgapSite(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	e := newAirgapEnv(t)
	A := e.agentInit("press-01", "site-a")
	e.agentOK("request", "--data", A, "--out", e.path("press-01.req"))
	if out := e.agentOK("inspect", e.path("press-01.req")); !strings.Contains(fields(out), "signature valid") {
		t.Fatalf("inspect request:\n%s", out)
	}
	lics := e.licenses()
	lic := lics[0]
	e.ctlOK(e.acme, "activation", "offline", "--request", e.path("press-01.req"), "--license", lic, "--out", e.path("key1"))
	if out := e.agentOK("inspect", "--data", A, e.path("key1"), "-o", "json"); !strings.Contains(out, `"signature": "valid"`) {
		t.Fatalf("inspect key:\n%s", out)
	}
	e.agentOK("activate", "--data", A, e.path("key1"))
	if st := e.status(A); len(st.Licenses) != 1 || *st.Licenses[0].AvailableDays != 3 {
		t.Fatalf("after key 1: %+v", st)
	}

	// Three days of samples, 250 a day against a budget of 240 (10/hour × 24).
	t0 := clock.Real{}.Now().UTC().Add(3 * time.Hour).Truncate(time.Hour).Add(5 * time.Minute)
	dayAt := func(d int) time.Time { return t0.Add(time.Duration(d) * 26 * time.Hour) }
	posted := map[int64]int64{} // Unix hour → accepted, what the ledger must show
	for d := 0; d < 3; d++ {
		acc, reasons := e.day(A, dayAt(d), 250)
		if acc != 240 || reasons["over_budget"] != 10 {
			t.Fatalf("day %d: %d accepted, refused %v", d, acc, reasons)
		}
		posted[dayAt(d).Truncate(time.Hour).Unix()] += int64(acc)
		if d == 0 {
			copyDir(t, A, e.path("site-a-day0")) // the copy restored later
		}
	}
	// Day 4: the three prepaid days are used up; the device stops itself.
	if acc, reasons := e.day(A, dayAt(3), 5); acc != 0 || reasons["no_days"] == 0 {
		t.Fatalf("day 4 with no days left: %d accepted, refused %v", acc, reasons)
	}

	// Receipt → import; the same receipt again; a re-export.
	e.agentOK("export-usage", "--data", A, "--out", e.path("r1"))
	r1 := e.inspectReceipt(A, e.path("r1"))
	// Four hours: the three days, and day 4's hour with refusals only
	// (refused samples are reported per hour). Seq 4 is day 4's failed
	// day: nothing could pay it and the agent blacklisted itself.
	if seqs(r1) != "1,2,3,4" || len(r1.Counts) != 4 || !r1.Deductions[3].Failed {
		t.Fatalf("receipt 1: seqs %s, %d counts", seqs(r1), len(r1.Counts))
	}
	imp := e.usageImport(e.acme, e.path("r1"))
	if imp.Duplicate || imp.Deductions != 4 || imp.AckedSeq != 4 || imp.NewForks != 0 || imp.NewOverdrafts != 1 {
		t.Fatalf("import 1: %+v", imp)
	}
	before := e.ctlOK(e.root, "license", "deductions", lic, "-o", "json")
	syncBefore := e.ctlOK(e.acme, "device", "sync", "press-01", "-o", "json")
	if imp := e.usageImport(e.acme, e.path("r1")); !imp.Duplicate || imp.AckedSeq != 4 || imp.NewForks != 0 {
		t.Fatalf("import 1 again: %+v", imp)
	}
	if after := e.ctlOK(e.acme, "device", "sync", "press-01", "-o", "json"); after != syncBefore {
		t.Fatalf("importing the same receipt again changed the device's sync state:\n%s\n%s", syncBefore, after)
	}
	e.agentOK("export-usage", "--data", A, "--out", e.path("r1b"))
	if imp := e.usageImport(e.acme, e.path("r1b")); imp.Duplicate || imp.AckedSeq != 4 || imp.NewForks != 0 {
		t.Fatalf("re-exported receipt: %+v", imp)
	}
	if after := e.ctlOK(e.root, "license", "deductions", lic, "-o", "json"); after != before {
		t.Fatalf("importing again changed the deductions:\n%s\n%s", before, after)
	}

	// A restored older copy of the agent's data writes seq 2 again, with
	// other content, in day 1's hour, where it counts 20 accepted against
	// the 240 the server holds: the server flags a fork, keeps what it
	// held (the hour stays at 240) and names the hour as conflicting; the
	// lower count of a forked receipt is not refused counter_went_down.
	// The day the copy used a second time is charged a second time: with
	// the site's three days gone, nothing can pay it, an overdraft (listed
	// with the fork, not among the license's deductions).
	old := e.path("site-a-day0")
	oldAt := dayAt(1).Add(30 * time.Minute)
	if acc, _ := e.day(old, oldAt, 20); acc != 20 {
		t.Fatalf("restored copy: %d accepted", acc)
	}
	e.agentOK("export-usage", "--data", old, "--out", e.path("r-old"))
	if imp := e.usageImport(e.acme, e.path("r-old")); imp.NewForks != 1 || imp.AckedSeq != 4 || imp.NewOverdrafts != 1 {
		t.Fatalf("restored copy's receipt: %+v", imp)
	}
	if after := e.ctlOK(e.root, "license", "deductions", lic, "-o", "json"); after != before {
		t.Fatalf("a fork changed the deductions:\n%s\n%s", before, after)
	}

	// Top-up: ten more days reach the site as a new key; with the device
	// cleared (the failed day blacklisted it on the server too, docs/design.md#day-licenses) it
	// lifts the stop.
	e.ctlOK(e.root, "license", "add-days", lic, "--days", "10")
	e.ctlOK(e.acme, "device", "unblacklist", "press-01")
	e.ctlOK(e.acme, "activation", "key", "--device", "press-01", "--out", e.path("key2"))
	e.agentOK("activate", "--data", A, e.path("key2"))
	if st := e.status(A); st.Blacklisted || *st.Licenses[0].AvailableDays != 10 {
		t.Fatalf("after the top-up: %+v", st)
	}
	if acc, _ := e.day(A, dayAt(4), 30); acc != 30 {
		t.Fatalf("day 5 after the top-up: %d accepted", acc)
	}
	posted[dayAt(4).Truncate(time.Hour).Unix()] += 30
	e.refused("stale_key", e.agent("activate", "--data", A, e.path("key2")))

	// Refusals, each named, with nothing applied: a fresh key mangled.
	e.ctlOK(e.acme, "activation", "key", "--device", "press-01", "--out", e.path("key3"))
	e.checkMangledKey(A, e.path("key3"))
	// The unmangled key still applies (nothing was used up), and the
	// receipt of day 5 is written (key 3 acknowledged 1..4: it carries seq 5
	// only), both through the running agent's control API.
	e.day(A, dayAt(4).Add(time.Hour), 0, func() {
		if out := e.agentOK("activate", "--data", A, e.path("key3")); !strings.Contains(out, "applied") {
			t.Fatalf("key 3 through the running agent:\n%s", out)
		}
		e.agentOK("export-usage", "--data", A, "--out", e.path("r2"))
	})
	e.checkForeignFiles(A, lics)
	e.checkUseBeforeRevocation(e.path("site-b"), lics[1])
	e.checkMangledReceipt(A)
	if imp := e.usageImport(e.acme, e.path("r2")); imp.AckedSeq != 5 || imp.Deductions != 1 || imp.NewOverdrafts != 0 {
		t.Fatalf("receipt 2: %+v", imp)
	}

	// Revocation reaches the site as a key and stops the agent. (Receipt 2
	// was imported first for this site's own timeline: its day 5 is a
	// simulated day after the server's now, and a deduction is trusted no
	// later than the server's now — imported after the revocation it would
	// rightly be an overdraft. checkUseBeforeRevocation runs the order
	// with a day deducted at real time before the revocation.)
	e.ctlOK(e.root, "license", "revoke", lic)
	e.ctlOK(e.acme, "activation", "key", "--device", "press-01", "--out", e.path("key4"))
	e.agentOK("activate", "--data", A, e.path("key4"))
	if acc, reasons := e.day(A, dayAt(5), 5); acc != 0 || reasons["revoked"] != 5 {
		t.Fatalf("after revocation: %d accepted, refused %v", acc, reasons)
	}
	e.agentOK("export-usage", "--data", A, "--out", e.path("r3"))
	if imp := e.usageImport(e.acme, e.path("r3")); imp.AckedSeq != 5 || imp.Deductions != 0 || imp.NewOverdrafts != 0 {
		t.Fatalf("receipt 3: %+v", imp)
	}

	// An expired key: made now, applied when the site's clock reads 31 days on.
	e.ctlOK(e.acme, "activation", "key", "--device", "press-01", "--out", e.path("key5"))
	stBefore := e.status(A)
	e.day(A, clock.Real{}.Now().Add(airgap.KeyLifetime+24*time.Hour), 0)
	e.refused("key_expired", e.agent("activate", "--data", A, e.path("key5")))
	if st := e.status(A); st.Licenses[0].Version != stBefore.Licenses[0].Version || st.Revocation.Seq != stBefore.Revocation.Seq {
		t.Fatalf("an expired key changed the agent: %+v → %+v", stBefore, st)
	}
	if st := e.status(A); st.LastSync != nil {
		t.Fatalf("the agent synced: %v", *st.LastSync)
	}

	e.stopServer()
	e.checkLedger("press-01", lic, dayAt(5).Add(2*time.Hour), posted)
}

// airgapEnv is a running tollgate-server with two customers, and the
// binaries to drive it and the agents with.
type airgapEnv struct {
	t                   *testing.T
	bin, dir, srvData   string
	url                 string
	root, acme, globex  string // API keys
	serve               *harness.Proc
	trustFile, trustDir string
}

func newAirgapEnv(t *testing.T) *airgapEnv {
	e := &airgapEnv{t: t, bin: build(t), dir: t.TempDir()}
	e.srvData = e.path("server")
	var init struct {
		AdminKey string `json:"admin_api_key"`
	}
	e.mustJSON(e.run(nil, "tollgate-server", "init", "--data", e.srvData, "-o", "json"), &init)
	e.root = init.AdminKey
	e.startServer()
	e.trustFile = e.path("trust.json")
	e.mustOK(e.run(nil, "tollgate-server", "trust", "--data", e.srvData, "--out", e.trustFile))
	e.acme = e.customer("acme")
	e.globex = e.customer("globex")
	return e
}

func (e *airgapEnv) path(name string) string { return filepath.Join(e.dir, name) }

type result struct {
	out, err string
	code     int
}

// run runs a binary with only HOME (and the given variables) set.
func (e *airgapEnv) run(env []string, name string, args ...string) result {
	e.t.Helper()
	res := harness.Run(time.Minute, harness.Options{Dir: e.dir, Env: append([]string{"HOME=" + e.dir}, env...)}, filepath.Join(e.bin, name), args...)
	r := result{out: res.Stdout, err: res.Stderr, code: res.Code}
	var ee *exec.ExitError
	if res.Err != nil && !errors.As(res.Err, &ee) {
		e.t.Fatalf("%s %v: %v", name, args, res.Err)
	}
	return r
}

func (e *airgapEnv) mustOK(r result) string {
	e.t.Helper()
	if r.code != 0 {
		e.t.Fatalf("exit %d: %s%s", r.code, r.out, r.err)
	}
	return r.out
}

func (e *airgapEnv) mustJSON(r result, v any) {
	e.t.Helper()
	if err := json.Unmarshal([]byte(e.mustOK(r)), v); err != nil {
		e.t.Fatalf("%v in %q", err, r.out)
	}
}

func (e *airgapEnv) ctl(key string, args ...string) result {
	return e.run([]string{"TOLLGATE_SERVER=" + e.url, "TOLLGATE_API_KEY=" + key}, "tollgatectl", args...)
}

func (e *airgapEnv) ctlOK(key string, args ...string) string {
	e.t.Helper()
	r := e.ctl(key, args...)
	if r.code != 0 {
		e.t.Fatalf("tollgatectl %v: exit %d: %s%s", args, r.code, r.out, r.err)
	}
	return r.out
}

// agent runs tollgate-agent with no server anywhere in its environment.
func (e *airgapEnv) agent(args ...string) result { return e.run(nil, "tollgate-agent", args...) }

func (e *airgapEnv) agentOK(args ...string) string {
	e.t.Helper()
	r := e.agent(args...)
	if r.code != 0 {
		e.t.Fatalf("tollgate-agent %v: exit %d: %s%s", args, r.code, r.out, r.err)
	}
	return r.out
}

// refused checks a refusal: exit 1 and one line `error: CODE: …` naming
// one of codes.
func (e *airgapEnv) refused(codes string, r result) string {
	e.t.Helper()
	if r.code != 1 || strings.Count(r.err, "\n") != 1 {
		e.t.Fatalf("want a refusal (%s), got exit %d: %s%s", codes, r.code, r.out, r.err)
	}
	for _, c := range strings.Split(codes, "|") {
		if strings.HasPrefix(r.err, "error: "+c+": ") {
			return c
		}
	}
	e.t.Fatalf("refused with %q, want one of %s", strings.TrimSpace(r.err), codes)
	return ""
}

func (e *airgapEnv) startServer() {
	e.serve = harness.Start(e.t, filepath.Join(e.bin, "tollgate-server"), []string{"serve", "--data", e.srvData, "--http", "127.0.0.1:0"},
		harness.Options{Env: []string{"HOME=" + e.dir}, Grace: 30 * time.Second})
	e.t.Cleanup(e.stopServer)
	line, ok := e.serve.NextLine(30 * time.Second)
	if !ok || !strings.HasPrefix(line, "http: http://") {
		e.t.Fatalf("serve printed %q\n%s", line, e.serve.Output())
	}
	e.url = strings.TrimPrefix(strings.TrimSpace(line), "http: ")
}

func (e *airgapEnv) stopServer() {
	if e.serve == nil {
		return
	}
	if err := e.serve.Stop(); err != nil {
		e.t.Errorf("server exited with %v after SIGTERM\n%s", err, e.serve.Stderr())
	}
	e.serve = nil
}

// customer creates a customer under the vendor and returns its admin's key.
func (e *airgapEnv) customer(id string) string {
	e.ctlOK(e.root, "customer", "create", "--id", id, "--name", id, "--parent", "root")
	var u struct {
		APIKey string `json:"api_key"`
	}
	e.mustJSON(e.ctl(e.root, "user", "create", "--customer", id, "--email", "it@"+id+".test", "--role", "admin", "-o", "json"), &u)
	return u.APIKey
}

// licenses creates Acme's three day licenses: 3 prepaid days, 10 samples an hour.
func (e *airgapEnv) licenses() []string {
	var ls struct {
		Licenses []struct {
			ID string `json:"id"`
		} `json:"licenses"`
	}
	e.mustJSON(e.ctl(e.root, "license", "create", "--customer", "acme", "--type", "standard", "--billing", "days", "--days", "3",
		"--models", "sensor-*", "--max-samples-per-hour", "10", "--count", "3", "-o", "json"), &ls)
	if len(ls.Licenses) != 3 {
		e.t.Fatalf("licenses %+v", ls)
	}
	return []string{ls.Licenses[0].ID, ls.Licenses[1].ID, ls.Licenses[2].ID}
}

// agentInit initializes an agent data directory with no server.
func (e *airgapEnv) agentInit(device, dir string) string {
	data := e.path(dir)
	e.agentOK("init", "--data", data, "--device-id", device, "--model", "sensor-a", "--trust", e.trustFile)
	return data
}

type agentStatus struct {
	Blacklisted  bool  `json:"blacklisted"`
	DeductionSeq int64 `json:"deduction_seq"`
	Queue        struct {
		Depth int64 `json:"depth"`
	} `json:"queue"`
	Upstream *struct {
		Broker    string `json:"broker"`
		Connected bool   `json:"connected"`
		Server    string `json:"server"`
	} `json:"upstream"`
	Licenses []struct {
		ID            string `json:"id"`
		Status        string `json:"status"`
		AvailableDays *int64 `json:"available_days"`
		Version       int64  `json:"version"`
	} `json:"licenses"`
	Refused    map[string]int64 `json:"refused"`
	LastSync   *string          `json:"last_sync"`
	Revocation *struct {
		Seq int64 `json:"seq"`
	} `json:"revocation_list"`
	Raw string `json:"-"`
}

func (e *airgapEnv) status(data string) agentStatus {
	e.t.Helper()
	var st agentStatus
	e.mustJSON(e.agent("status", "--data", data, "-o", "json"), &st)
	return st
}

// day runs the agent with its clock reading at when it starts, posts n
// samples in one batch, runs during (while the agent holds its data
// directory), stops it, and returns how many were accepted and why the
// others were refused.
func (e *airgapEnv) day(data string, at time.Time, n int, during ...func()) (int, map[string]int) {
	e.t.Helper()
	now := clock.Real{}.Now().UTC()
	origin := now.Add(-30 * 24 * time.Hour).Truncate(time.Second)
	speed := float64(at.Sub(origin)) / float64(now.Sub(origin))
	p := harness.Start(e.t, filepath.Join(e.bin, "tollgate-agent"), []string{"run", "--data", data, "--ingest", "127.0.0.1:0",
		"--clock-speed", fmt.Sprintf("%.9f", speed), "--clock-origin", origin.Format(time.RFC3339)},
		harness.Options{Env: []string{"HOME=" + e.dir}, Grace: 30 * time.Second})
	line, _ := p.NextLine(30 * time.Second)
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "ingest listening on ")
	if !ok {
		p.Kill()
		e.t.Fatalf("agent run printed %q\n%s", line, p.Output())
	}
	accepted, reasons := 0, map[string]int{}
	if n > 0 {
		samples := make([]map[string]any, n)
		for i := range samples {
			samples[i] = map[string]any{"data": map[string]int{"i": i}}
		}
		body, _ := json.Marshal(map[string]any{"samples": samples})
		resp, err := http.Post("http://"+addr+"/v1/samples", "application/json", bytes.NewReader(body))
		if err != nil {
			e.t.Fatal(err)
		}
		var res struct {
			Results []struct {
				Accepted bool   `json:"accepted"`
				Reason   string `json:"reason"`
			} `json:"results"`
		}
		err = json.NewDecoder(resp.Body).Decode(&res)
		resp.Body.Close()
		if err != nil || len(res.Results) != n {
			e.t.Fatalf("ingest answer: %v, %d results", err, len(res.Results))
		}
		for _, r := range res.Results {
			if r.Accepted {
				accepted++
			} else {
				reasons[r.Reason]++
			}
		}
	}
	for _, f := range during {
		f()
	}
	if err := p.Stop(); err != nil {
		e.t.Fatalf("agent exit: %v\n%s", err, p.Stderr())
	}
	return accepted, reasons
}

// checkUseBeforeRevocation: a site (B, activated with lic by
// checkForeignFiles' key) deducts a day at real time, then lic is revoked
// and only then is the site's receipt imported: the day was made while
// the license could pay, so it is charged to it — no overdraft, the
// device not blacklisted (docs/design.md#sync: a validly signed record is never
// dropped; docs/design.md#day-licenses: judged when it was made).
func (e *airgapEnv) checkUseBeforeRevocation(B, lic string) {
	e.t.Helper()
	e.agentOK("activate", "--data", B, e.path("keyB"))
	if acc, reasons := e.day(B, clock.Real{}.Now(), 1); acc != 1 {
		e.t.Fatalf("site B: %d accepted, refused %v", acc, reasons)
	}
	// Times are whole seconds and the agent's effective time may lead the
	// server's by up to one (its persisted high-water mark is rounded up):
	// the revoke comes two seconds after the deduction.
	time.Sleep(2 * time.Second) // spacing of two whole-second timestamps, not a wait for an outcome
	e.ctlOK(e.root, "license", "revoke", lic)
	e.agentOK("export-usage", "--data", B, "--out", e.path("rB"))
	if imp := e.usageImport(e.acme, e.path("rB")); imp.Deductions != 1 || imp.AckedSeq != 1 || imp.NewOverdrafts != 0 {
		e.t.Fatalf("site B's receipt imported after the revocation: %+v", imp)
	}
	var ds struct {
		Deductions []struct {
			Seq        int64 `json:"seq"`
			Failed     bool  `json:"failed"`
			DaysBefore int64 `json:"days_before"`
			DaysAfter  int64 `json:"days_after"`
		} `json:"deductions"`
	}
	e.mustJSON(e.ctl(e.root, "license", "deductions", lic, "-o", "json"), &ds)
	if len(ds.Deductions) != 1 || ds.Deductions[0].Failed || ds.Deductions[0].DaysBefore != 3 || ds.Deductions[0].DaysAfter != 2 {
		e.t.Fatalf("site B's license deductions after the import: %+v", ds)
	}
	var dev struct {
		Blacklisted bool `json:"blacklisted"`
	}
	e.mustJSON(e.ctl(e.acme, "device", "show", "press-02", "-o", "json"), &dev)
	if dev.Blacklisted {
		e.t.Fatal("site B's device blacklisted for a day deducted before the revocation")
	}
}

// inspectReceipt reads a receipt through `tollgate-agent inspect -o json`,
// which must find its signature valid with the agent's own key.
func (e *airgapEnv) inspectReceipt(data, file string) *syncproto.Report {
	e.t.Helper()
	var d struct {
		Signature string           `json:"signature"`
		Kind      string           `json:"kind"`
		Content   syncproto.Report `json:"content"`
	}
	e.mustJSON(e.agent("inspect", "--data", data, file, "-o", "json"), &d)
	if d.Signature != airgap.SigValid || d.Kind != "usage_receipt" {
		e.t.Fatalf("receipt inspected as %s, signature %s", d.Kind, d.Signature)
	}
	return &d.Content
}

type usageImport struct {
	Duplicate     bool  `json:"duplicate"`
	Deductions    int   `json:"deductions"`
	Counts        int   `json:"counts"`
	AckedSeq      int64 `json:"acked_seq"`
	NewForks      int64 `json:"new_forks"`
	NewOverdrafts int64 `json:"new_overdrafts"`
}

func (e *airgapEnv) usageImport(key, file string) usageImport {
	e.t.Helper()
	var u usageImport
	e.mustJSON(e.ctl(key, "usage", "import", file, "-o", "json"), &u)
	return u
}

func seqs(r *syncproto.Report) string {
	s := make([]string, len(r.Deductions))
	for i, d := range r.Deductions {
		s[i] = fmt.Sprint(d.Seq)
	}
	return strings.Join(s, ",")
}

// fields collapses runs of spaces, for matching table output.
func fields(s string) string { return strings.Join(strings.Fields(s), " ") }

// checkMangledKey: a flipped byte (header, body, payload, signature,
// footer, line ending), a truncated file and one over the size cap are
// each refused with a named error, and the agent is unchanged.
func (e *airgapEnv) checkMangledKey(data, keyFile string) {
	e.t.Helper()
	good, _ := os.ReadFile(keyFile)
	before := e.agentOK("status", "--data", data, "-o", "json")
	bad := e.path("mangled.key")
	try := func(name string, b []byte, codes string) {
		e.t.Helper()
		os.WriteFile(bad, b, 0o644)
		e.refused(codes, e.agent("activate", "--data", data, bad))
		if now := e.agentOK("status", "--data", data, "-o", "json"); stripTimes(now) != stripTimes(before) {
			e.t.Fatalf("%s: a refused key changed the agent:\n%s\n%s", name, before, now)
		}
	}
	header := len("-----BEGIN TOLLGATE ACTIVATION KEY-----\n")
	for _, at := range []int{0, 20, header - 1, header + 2, header + 10, header + 70, len(good) / 2, len(good) - 60, len(good) - 45, len(good) - 10, len(good) - 1} {
		b := bytes.Clone(good)
		b[at] ^= 0x01
		try(fmt.Sprintf("flip at %d", at), b, "malformed_file|malformed|bad_signature|unknown_key|not_an_activation_key")
	}
	try("truncated", good[:len(good)*2/3], "malformed_file")
	try("truncated at a line end", good[:bytes.LastIndex(good[:len(good)-2], []byte("\n"))+1], "malformed_file")
	try("over the size cap", append(bytes.Repeat([]byte("A"), limits.MaxAirgapFileBytes), good...), "too_large")
	// Another air-gap file given as a key.
	req, _ := os.ReadFile(e.path("press-01.req"))
	try("a request", req, "not_an_activation_key")
}

// checkForeignFiles: a key for another device, a request signed by
// another device key (a second device claiming the id, and a request
// signed by a key that is not its own) and a receipt imported by another
// customer are refused, and nothing is bound or imported.
func (e *airgapEnv) checkForeignFiles(A string, lics []string) {
	e.t.Helper()
	B := e.agentInit("press-02", "site-b")
	e.agentOK("request", "--data", B, "--out", e.path("press-02.req"))
	e.ctlOK(e.acme, "activation", "offline", "--request", e.path("press-02.req"), "--license", lics[1], "--out", e.path("keyB"))
	e.refused("wrong_device", e.agent("activate", "--data", A, e.path("keyB")))

	C := e.agentInit("press-01", "site-c") // another device with press-01's id
	e.agentOK("request", "--data", C, "--out", e.path("imposter.req"))
	e.refused("device_key_mismatch", e.ctl(e.acme, "activation", "offline", "--request", e.path("imposter.req"), "--license", lics[2], "--out", e.path("keyC")))
	// press-01's own request, re-signed by another key.
	orig, _ := os.ReadFile(e.path("press-01.req"))
	r, err := airgap.ParseActivationRequest(orig)
	if err != nil {
		e.t.Fatal(err)
	}
	seed := sha256.Sum256([]byte("an imposter's key"))
	s, _ := token.NewSigner(ed25519.NewKeyFromSeed(seed[:]))
	p, _ := token.EncodePayload(r)
	text, _ := s.SignPayload(token.KindActivationRequest, p)
	forged, _ := airgap.Armor(token.KindActivationRequest, text)
	os.WriteFile(e.path("forged.req"), forged, 0o644)
	e.refused("not_self_signed", e.ctl(e.acme, "activation", "offline", "--request", e.path("forged.req"), "--license", lics[2], "--out", e.path("keyC")))
	var l struct {
		Status string `json:"status"`
	}
	e.mustJSON(e.ctl(e.root, "license", "show", lics[2], "-o", "json"), &l)
	if l.Status != "unused" {
		e.t.Fatalf("a refused request bound license %s: %s", lics[2], l.Status)
	}
	if _, err := os.Stat(e.path("keyC")); !os.IsNotExist(err) {
		e.t.Fatalf("a refused request wrote a key: %v", err)
	}
	// Acme's receipt imported by another customer's admin: not found.
	e.refused("not_found", e.ctl(e.globex, "usage", "import", e.path("r1")))
	// A receipt signed by press-01's own key that names another customer's
	// license (a device key used to charge someone else): refused whole.
	var gl struct {
		Licenses []struct {
			ID string `json:"id"`
		} `json:"licenses"`
	}
	e.mustJSON(e.ctl(e.root, "license", "create", "--customer", "globex", "--type", "standard", "--billing", "days", "--days", "3",
		"--models", "sensor-*", "-o", "json"), &gl)
	at := clock.Real{}.Now().Unix()
	rep := &syncproto.Report{DeviceID: "press-01", Nonce: "ZZZZZZZZZZZZZZZZZZZZZZ", SentAt: at, Tokens: []syncproto.TokenVersion{},
		Deductions: []syncproto.Deduction{{Seq: 50, LicenseID: gl.Licenses[0].ID, At: at, PaidUntil: at + 86400, DaysBefore: 3, DaysAfter: 2}},
		Counts:     []syncproto.HourlyCount{}}
	f, err := airgap.SignUsageReceipt(e.deviceSigner(A), rep)
	if err != nil {
		e.t.Fatal(err)
	}
	os.WriteFile(e.path("foreign.receipt"), f, 0o644)
	before := e.ctlOK(e.acme, "device", "sync", "press-01", "-o", "json")
	e.refused("not_this_device", e.ctl(e.acme, "usage", "import", e.path("foreign.receipt")))
	e.refused("not_found", e.ctl(e.globex, "usage", "import", e.path("foreign.receipt")))
	if after := e.ctlOK(e.acme, "device", "sync", "press-01", "-o", "json"); after != before {
		e.t.Fatalf("a refused receipt changed the device's sync state:\n%s\n%s", before, after)
	}
}

// deviceSigner reads an agent's device key (PKCS#8 PEM) to forge with.
func (e *airgapEnv) deviceSigner(data string) *token.Signer {
	e.t.Helper()
	b, err := os.ReadFile(filepath.Join(data, "device.key"))
	if err != nil {
		e.t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		e.t.Fatal("device.key is not PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		e.t.Fatal(err)
	}
	s, err := token.NewSigner(k.(ed25519.PrivateKey))
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// checkMangledReceipt: flipped, truncated and oversized receipts are
// refused by the server with a named error, and nothing is imported.
func (e *airgapEnv) checkMangledReceipt(A string) {
	e.t.Helper()
	e.agentOK("export-usage", "--data", A, "--out", e.path("r-good"))
	good, _ := os.ReadFile(e.path("r-good"))
	before := e.ctlOK(e.acme, "device", "sync", "press-01", "-o", "json")
	bad := e.path("mangled.receipt")
	try := func(name string, b []byte, codes string) {
		e.t.Helper()
		os.WriteFile(bad, b, 0o644)
		e.refused(codes, e.ctl(e.acme, "usage", "import", bad))
	}
	for _, at := range []int{0, 30, 45, 60, len(good) / 3, len(good) / 2, len(good) - 70, len(good) - 40, len(good) - 1} {
		b := bytes.Clone(good)
		b[at] ^= 0x01
		try(fmt.Sprintf("flip at %d", at), b, "malformed_file|malformed_document|bad_signature|invalid_report|unknown_device|not_found")
	}
	try("truncated", good[:len(good)/2], "malformed_file")
	try("over the size cap", append(bytes.Repeat([]byte("A"), limits.MaxAirgapFileBytes), good...), "body_too_large")
	if after := e.ctlOK(e.acme, "device", "sync", "press-01", "-o", "json"); after != before {
		e.t.Fatalf("a refused receipt changed the device's sync state:\n%s\n%s", before, after)
	}
}

// stripTimes drops the status fields that move with the wall clock.
func stripTimes(status string) string {
	var m map[string]any
	json.Unmarshal([]byte(status), &m)
	delete(m, "effective_time")
	delete(m, "tamper")
	delete(m, "tamper_events")
	b, _ := json.Marshal(m)
	return string(b)
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if out, err := exec.Command("cp", "-a", from, to).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
}

// checkLedger opens the stopped server's ledger on a clock after the
// simulated days and compares it with what the agent was seen to do: the
// deductions 1..4 of the license, and the accepted count of every hour.
func (e *airgapEnv) checkLedger(device, lic string, at time.Time, posted map[int64]int64) {
	e.t.Helper()
	clk := clock.NewFake(at)
	log := slog.New(slog.DiscardHandler)
	db, err := store.Open(store.Options{Dir: filepath.Join(e.srvData, "ledger"), Profile: store.ProfileSmall, Clock: clk, Logger: log})
	if err != nil {
		e.t.Fatal(err)
	}
	defer db.Close()
	ks, err := keys.Open(e.srvData, clk)
	if err != nil {
		e.t.Fatal(err)
	}
	lg, err := ledger.New(ledger.Options{DB: db, Clock: clk, Keys: ks, Logger: log})
	if err != nil {
		e.t.Fatal(err)
	}
	ctx := context.Background()
	root, err := lg.Authenticate(ctx, e.root)
	if err != nil {
		e.t.Fatal(err)
	}
	ds, err := lg.ListDeductions(ctx, root, lic)
	if err != nil {
		e.t.Fatal(err)
	}
	var got []string
	for _, d := range ds {
		mark := ""
		if d.Failed {
			mark = "(failed)"
		}
		got = append(got, fmt.Sprintf("%s#%d%s", d.DeviceID, d.Seq, mark))
	}
	// Seq 4, the failed day, charged no license: it is the one overdraft,
	// listed with the license it could not charge.
	if strings.Join(got, " ") != "press-01#1 press-01#2 press-01#3 press-01#4(failed) press-01#5" {
		e.t.Fatalf("ledger deductions of %s: %v", lic, got)
	}
	st, err := lg.DeviceSyncStatus(ctx, root, device)
	if err != nil {
		e.t.Fatal(err)
	}
	held := map[int64]int64{}
	for _, c := range st.Hourly {
		if c.Accepted > 0 {
			held[c.Hour] = c.Accepted
		}
	}
	if fmt.Sprint(held) != fmt.Sprint(posted) {
		e.t.Fatalf("ledger hourly accepted counts %v, the agent accepted %v", held, posted)
	}
	// Two overdrafts: seq 4's failed day, and the restored copy's second
	// use of seq 2's day, listed with its fork.
	if st.Forks != 1 || st.AckedSeq != 5 || st.Overdrafts != 2 || len(st.OverdraftList) != 1 || st.OverdraftList[0].Seq != 4 {
		e.t.Fatalf("ledger sync state: forks %d, acked %d, overdrafts %d %+v", st.Forks, st.AckedSeq, st.Overdrafts, st.OverdraftList)
	}
	if len(st.ForkList) != 1 || st.ForkList[0].Seq != 2 || st.ForkList[0].Charge == nil || !st.ForkList[0].Charge.Failed {
		e.t.Fatalf("ledger forks %+v, want seq 2's second use an overdraft", st.ForkList)
	}
}
