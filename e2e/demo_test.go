package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/internal/testkit/harness"
	"github.com/tollgate-iot/tollgate/internal/testkit/pgtest"
	"github.com/tollgate-iot/tollgate/shared/token"
)

var rowRe = regexp.MustCompile(`^(press|sensor)-0\d$`)

// moduleRoot finds the directory of go.mod above the test's directory.
func moduleRoot(t *testing.T) string {
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found")
		}
		dir = parent
	}
}

// TestDemo runs `make run`'s script (on 4 simulated days at 6 hours per
// second, with the binaries built for the tests): it prints the story
// table and a tollgatectl command that works against the server it keeps
// running, and Ctrl-C (here SIGTERM) stops every process it started.
func TestDemo(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := harness.Start(t, "/bin/bash", []string{filepath.Join(moduleRoot(t), "scripts", "run-demo.sh")}, harness.Options{
		Env: []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + dir, "TOLLGATE_BIN=" + bin,
			"DEMO_DIR=" + filepath.Join(dir, "demo"), "DEMO_DAYS=4", "DEMO_SPEED=21600"},
		Grace: 20 * time.Second})

	var out []string
	rows := map[string][]string{} // DEVICE AGENT VIA LICENSES SENT ACCEPTED REFUSED …
	var exports, show, deductions string
	const demoTimeout = 3 * time.Minute
	begun := wall.Now()
	for deductions == "" {
		l, ok := p.NextLine(demoTimeout - wall.Now().Sub(begun))
		switch {
		case !ok && p.Exited():
			t.Fatalf("the demo ended early:\n%s\n%s", strings.Join(out, "\n"), p.Stderr())
		case !ok:
			t.Fatalf("no tollgatectl command in 3 minutes:\n%s\n%s", strings.Join(out, "\n"), p.Stderr())
		default:
			out = append(out, l)
			f := strings.Fields(l)
			if len(f) > 10 && rowRe.MatchString(f[0]) && rows[f[0]] == nil {
				rows[f[0]] = f
			}
			if v, ok := strings.CutPrefix(strings.TrimSpace(l), "export "); ok {
				exports = v
			}
			if strings.Contains(l, "tollgatectl license show ") {
				show = strings.TrimSpace(l)
			}
			if strings.Contains(l, "tollgatectl license deductions ") {
				deductions = strings.TrimSpace(l)
			}
		}
	}
	t.Logf("demo output:\n%s", strings.Join(out, "\n"))
	for dev, want := range map[string]struct{ licenses, refused, reasons string }{
		"press-01":  {"days:no_days", "", "no_days "},
		"press-02":  {"term:active", "", "over_budget"},
		"press-03":  {"term:active", "0", ""},
		"press-04":  {"term:revoked", "", "revoked"},
		"sensor-01": {"term:active", "0", ""},
		"sensor-03": {"term:active", "0", ""},
	} {
		f, line := rows[dev], strings.Join(rows[dev], " ")
		if f == nil || f[3] != want.licenses || f[4] != "5760" || (want.refused != "" && f[6] != want.refused) || !strings.Contains(line, want.reasons) {
			t.Errorf("story row of %s: %q; want licenses %s, 5760 sent, refused %q, reasons %q", dev, line, want.licenses, want.refused, want.reasons)
		}
	}
	if !strings.HasSuffix(strings.Join(rows["press-01"], " "), "blacklisted (no_days)") || rows["sensor-01"][2] != "bridge" ||
		!strings.HasSuffix(strings.Join(rows["press-04"], " "), "cut off (revoked)") {
		t.Errorf("press-01 not blacklisted, sensor-01 not bridged or press-04 not cut off: %q, %q, %q", rows["press-01"], rows["sensor-01"], rows["press-04"])
	}

	// The printed command works, with the printed settings.
	var env []string
	for _, kv := range strings.Fields(exports) {
		env = append(env, kv)
	}
	argv := strings.Fields(show)
	if len(env) != 2 || len(argv) != 4 {
		t.Fatalf("settings %q, command %q", exports, show)
	}
	ctlEnv := harness.Options{Env: append([]string{"HOME=" + dir}, env...)}
	ctl := func(args ...string) (string, error) {
		r := harness.Run(0, ctlEnv, filepath.Join(bin, "tollgatectl"), args...)
		return r.Stdout + r.Stderr, r.Err
	}
	res, err := ctl(argv[1:]...)
	if err != nil || !strings.Contains(res, "revoked") {
		t.Fatalf("%s: %v\n%s", show, err, res)
	}

	// The agents synced: the ledger holds press-01's three charged days and
	// the failed fourth.
	argv = strings.Fields(deductions)
	res, err = ctl(append(argv[1:], "-o", "json")...)
	if err != nil || strings.Count(res, `"failed": false`) != 3 || strings.Count(res, `"failed": true`) != 1 {
		t.Fatalf("%s: %v\n%s", deductions, err, res)
	}
	// …and the failed fourth day press-01 recorded when it blacklisted
	// itself reached the server, which blacklisted the device.
	res, err = ctl("device", "show", "press-01", "-o", "json")
	if err != nil || !strings.Contains(res, `"blacklisted": true`) {
		t.Fatalf("tollgatectl device show press-01: %v\n%s", err, res)
	}
	// The views tell the truth about the agents' fast clocks: press-01's
	// last 24 h count the accepted samples its syncs brought (not 0 for
	// hours of its clock days ahead), and press-02's telemetry is compared
	// as totals on the server's clock, saying why.
	var sync struct {
		Last24h   struct{ Accepted int64 } `json:"last_24h"`
		WindowsBy string                   `json:"windows_by"`
		Clock     *struct{ Off bool }      `json:"clock"`
	}
	if res := ctlJSON(t, bin, ctlEnv, &sync, "device", "sync", "press-01"); sync.Last24h.Accepted == 0 ||
		sync.WindowsBy != "server_receipt" || sync.Clock == nil || !sync.Clock.Off {
		t.Errorf("tollgatectl device sync press-01: want accepted in the last 24 h by receipt, a clock off:\n%s", res)
	}
	// press-02 was held to its budget: its syncs brought each hour's
	// refusals by reason, all over_budget (counted with the hour's total
	// in one transaction on the agent, so they add up exactly).
	var held struct {
		Hourly []struct {
			Hour      string           `json:"hour"`
			Refused   int64            `json:"refused"`
			RefusedBy map[string]int64 `json:"refused_by"`
		} `json:"hourly"`
	}
	res = ctlJSON(t, bin, ctlEnv, &held, "device", "sync", "press-02")
	var refused int64
	for _, h := range held.Hourly {
		if h.RefusedBy["over_budget"] != h.Refused || len(h.RefusedBy) > 1 || h.Refused > 0 && len(h.RefusedBy) != 1 {
			t.Errorf("tollgatectl device sync press-02: hour %s refused %d by reason %v, want all over_budget", h.Hour, h.Refused, h.RefusedBy)
		}
		refused += h.Refused
	}
	if refused == 0 {
		t.Errorf("tollgatectl device sync press-02: no refusals reported:\n%s", res)
	}
	var tel struct {
		Observed         int64                        `json:"observed"`
		ReportedAccepted int64                        `json:"reported_accepted"`
		Compared         string                       `json:"compared"`
		Hours            []struct{ Difference int64 } `json:"hours"`
		Clock            *struct{ Note string }       `json:"clock"`
	}
	if res := ctlJSON(t, bin, ctlEnv, &tel, "device", "telemetry", "press-02"); tel.Compared != "totals" || len(tel.Hours) != 0 ||
		tel.Observed == 0 || tel.ReportedAccepted == 0 || tel.Clock == nil || !strings.Contains(tel.Clock.Note, "device clock runs ahead") {
		t.Errorf("tollgatectl device telemetry press-02: want totals with a note on the clock:\n%s", res)
	}

	// What the badger ledger answers, to compare once it is in PostgreSQL.
	licenseID := strings.Fields(deductions)[3]
	before := demoAnswers(t, bin, ctlEnv, licenseID)

	// Ctrl-C stops the server too.
	server := strings.TrimPrefix(env[0], "TOLLGATE_SERVER=")
	p.Signal(syscall.SIGTERM)
	select {
	case <-p.Done():
	case <-wall.After(20 * time.Second):
		t.Fatal("the demo did not stop on SIGTERM")
	}
	if resp, err := (&http.Client{Timeout: 2 * time.Second}).Get(server + "/healthz"); err == nil {
		resp.Body.Close()
		t.Fatalf("the server at %s still answers after the demo stopped", server)
	}
	migrateDemoLedger(t, filepath.Join(dir, "demo"), ctlEnv, licenseID, before)
}

// demoAnswers is what the ledger answers about the demo: the vendor's
// statistics (less the time they were asked at), a license's deductions
// and record, and press-01's device record, as tollgatectl prints them.
func demoAnswers(t *testing.T, bin string, opts harness.Options, licenseID string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for name, args := range map[string][]string{
		"stats":      {"stats"},
		"deductions": {"license", "deductions", licenseID},
		"device":     {"device", "show", "press-01"},
		"license":    {"license", "show", licenseID},
	} {
		r := harness.Run(0, opts, filepath.Join(bin, "tollgatectl"), append(args, "-o", "json")...)
		if r.Err != nil {
			t.Fatalf("tollgatectl %s: %v\n%s%s", strings.Join(args, " "), r.Err, r.Stdout, r.Stderr)
		}
		out[name] = r.Stdout
		if name == "stats" { // "at" is when it was asked
			var m map[string]any
			if err := json.Unmarshal([]byte(r.Stdout), &m); err != nil {
				t.Fatalf("tollgatectl stats: %v\n%s", err, r.Stdout)
			}
			delete(m, "at")
			b, _ := json.Marshal(m)
			out[name] = string(b)
		}
	}
	return out
}

// migrateDemoLedger moves the stopped demo's badger ledger into
// PostgreSQL with tollgate-server migrate-store, serves it from there, and
// requires the same answers as before, and the license's token to verify
// with the demo's trust bundle.
func migrateDemoLedger(t *testing.T, demo string, ctlEnv harness.Options, licenseID string, before map[string]string) {
	t.Helper()
	pg := pgtest.URL(t)
	server := filepath.Join(bin, "tollgate-server")
	data := filepath.Join(demo, "server")
	harness.MustRun(t, 0, harness.Options{}, server, "migrate-store", "--data", data, "--to", pg)
	p := harness.Start(t, server, []string{"serve", "--data", data, "--store", pg, "--http", "127.0.0.1:0", "--profile", "small"},
		harness.Options{Env: []string{"HOME=" + demo}, Grace: 20 * time.Second})
	line, _ := p.NextLine(time.Minute)
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "http: ")
	if !ok {
		t.Fatalf("serve on PostgreSQL printed %q\n%s", line, p.Output())
	}
	opts := harness.Options{}
	for _, kv := range ctlEnv.Env {
		if strings.HasPrefix(kv, "TOLLGATE_SERVER=") {
			kv = "TOLLGATE_SERVER=" + url
		}
		opts.Env = append(opts.Env, kv)
	}
	after := demoAnswers(t, bin, opts, licenseID)
	for name, b := range before {
		if after[name] != b {
			t.Errorf("%s on PostgreSQL differs from badger:\n%s\nwant\n%s", name, after[name], b)
		}
	}
	var lic struct {
		Token string `json:"token"`
	}
	ctlJSON(t, bin, opts, &lic, "license", "token", licenseID)
	raw, err := os.ReadFile(filepath.Join(demo, "trust.json"))
	if err != nil {
		t.Fatal(err)
	}
	trust, err := token.ParseTrustBundle(raw)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := token.ParseLicense(trust, lic.Token); err != nil {
		t.Fatalf("the license token served from PostgreSQL does not verify: %v", err)
	}
}

// ctlJSON runs tollgatectl ARGS -o json with the demo's settings and
// decodes its output into v; it returns the output.
func ctlJSON(t *testing.T, bin string, opts harness.Options, v any, args ...string) string {
	t.Helper()
	r := harness.Run(0, opts, filepath.Join(bin, "tollgatectl"), append(args, "-o", "json")...)
	if r.Err != nil {
		t.Fatalf("tollgatectl %s: %v\n%s%s", strings.Join(args, " "), r.Err, r.Stdout, r.Stderr)
	}
	if err := json.Unmarshal([]byte(r.Stdout), v); err != nil {
		t.Fatalf("tollgatectl %s: %v\n%s", strings.Join(args, " "), err, r.Stdout)
	}
	return r.Stdout
}
