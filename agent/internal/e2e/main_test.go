package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/agent/internal/store"
	"github.com/tollgate-iot/tollgate/agent/internal/testkit"
	"github.com/tollgate-iot/tollgate/internal/testkit/harness"
	"github.com/tollgate-iot/tollgate/shared/token"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// agentPkg is the binary the suite runs, built once by TestMain.
const agentPkg = "github.com/tollgate-iot/tollgate/agent/cmd/tollgate-agent"

// agentBin is the built tollgate-agent.
var agentBin string

func TestMain(m *testing.M) {
	if _, err := harness.Build(agentPkg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	agentBin = harness.Binary(agentPkg)
	code := m.Run()
	harness.Cleanup()
	os.Exit(code)
}

// cmdRun runs the agent binary to completion and returns stdout.
func cmdRun(t *testing.T, args ...string) string {
	t.Helper()
	out, err := execAgent(args...)
	if err != nil {
		t.Fatalf("tollgate-agent %v: %v", args, err)
	}
	return out
}

// execAgent runs the agent binary; the error carries stderr.
func execAgent(args ...string) (string, error) {
	r := harness.Run(harness.DefaultRun, harness.Options{Inherit: true}, agentBin, args...)
	if r.Err != nil {
		return r.Stdout, fmt.Errorf("%v: %s", r.Err, r.Stderr)
	}
	return r.Stdout, nil
}

// initData runs init and activate; it returns the data dir.
func initData(t *testing.T, mod func(*token.License)) string {
	data, _ := initDataKey(t, mod)
	return data
}

// initDataKey is initData that also returns the device's public key.
func initDataKey(t *testing.T, mod func(*token.License)) (string, string) {
	t.Helper()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	trust := filepath.Join(dir, "trust.json")
	os.WriteFile(trust, testkit.TrustBundle(t), 0o644)
	var doc map[string]string
	if err := json.Unmarshal([]byte(cmdRun(t, "init", "--data", data, "--device-id", "pump-1", "--model", "TG-100", "--trust", trust, "-o", "json")), &doc); err != nil {
		t.Fatal(err)
	}
	pub, err := token.ParsePublicKey(doc["public_key"])
	if err != nil {
		t.Fatal(err)
	}
	_, text := testkit.License(t, "pump-1", pub, mod)
	cmdRun(t, "activate", "--data", data, text)
	return data, doc["public_key"]
}

// proc is a running agent process.
type proc struct {
	*harness.Proc
	addr string
}

// startTimeout bounds the wait for the agent's ingest address.
const startTimeout = 20 * time.Second

// start runs `tollgate-agent run` and waits for its ingest address, which
// must be the first line it prints. The test's end stops it.
func start(t testing.TB, data string, args ...string) *proc {
	t.Helper()
	all := append([]string{"run", "--data", data, "--ingest", "127.0.0.1:0"}, args...)
	p := &proc{Proc: harness.Start(t, agentBin, all, harness.Options{Inherit: true, Grace: startTimeout})}
	l, ok := p.NextLine(startTimeout)
	addr, found := strings.CutPrefix(l, "ingest listening on ")
	if !ok || !found {
		p.Kill()
		t.Fatalf("agent did not start: %q\n%s", l, p.Output())
	}
	p.addr = addr
	return p
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill(testing.TB) { p.Kill() }

// stop sends SIGTERM and waits for a clean exit.
func (p *proc) stop(t testing.TB) {
	t.Helper()
	p.StopClean(t)
}

var httpClient = &http.Client{Timeout: 5 * time.Second}

// postBatch posts samples {"n": first..first+n-1}; it returns the results,
// or nil if the request failed (the agent died).
func postBatch(ctx context.Context, addr string, first, n int) []wire.Result {
	var b strings.Builder
	b.WriteString(`{"samples":[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"data":{"n":%d}}`, first+i)
	}
	b.WriteString("]}")
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/v1/samples", strings.NewReader(b.String()))
	req.Header.Set("Content-Type", "application/json")
	resp, err := httpClient.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		return nil
	}
	var out wire.IngestResponse
	if json.Unmarshal(body, &out) != nil {
		return nil
	}
	return out.Results
}

// openState opens a stopped agent's state database.
func openState(t *testing.T, data string) *store.Store {
	t.Helper()
	key, err := store.FileKeyProvider{Path: filepath.Join(data, "secrets", "state.key")}.StateKey(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), store.Options{Dir: filepath.Join(data, "state"), Key: key})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func httpGet(t testing.TB, url string) string {
	t.Helper()
	resp, err := httpClient.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
