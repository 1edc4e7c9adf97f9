package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/agent/internal/store"
	"github.com/tollgate-iot/tollgate/agent/internal/testkit"
	"github.com/tollgate-iot/tollgate/internal/testkit/syncbuf"
	"github.com/tollgate-iot/tollgate/shared/token"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// agentBin is the tollgate-agent binary built once by TestMain.
var agentBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tollgate-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	agentBin = filepath.Join(dir, "tollgate-agent")
	out, err := exec.Command("go", "build", "-o", agentBin, "github.com/tollgate-iot/tollgate/agent/cmd/tollgate-agent").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building tollgate-agent: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
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
	var out, errb bytes.Buffer
	c := exec.Command(agentBin, args...)
	c.Stdout, c.Stderr = &out, &errb
	if err := c.Run(); err != nil {
		return out.String(), fmt.Errorf("%v: %s", err, errb.String())
	}
	return out.String(), nil
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
	cmd    *exec.Cmd
	addr   string
	more   chan string // stdout lines after the first
	stderr *syncBuffer
	done   chan error
}

type syncBuffer = syncbuf.Buffer

// start runs `tollgate-agent run` and waits for its ingest address.
func start(t testing.TB, data string, args ...string) *proc {
	t.Helper()
	all := append([]string{"run", "--data", data, "--ingest", "127.0.0.1:0"}, args...)
	p := &proc{cmd: exec.Command(agentBin, all...), stderr: &syncBuffer{}, done: make(chan error, 1)}
	p.cmd.Stderr = p.stderr
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 4)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		p.done <- p.cmd.Wait()
	}()
	select {
	case l, ok := <-lines:
		addr, found := strings.CutPrefix(l, "ingest listening on ")
		if !ok || !found {
			p.cmd.Process.Kill()
			t.Fatalf("agent did not start: %q\n%s", l, p.stderr.String())
		}
		p.addr = addr
	case <-time.After(20 * time.Second):
		p.cmd.Process.Kill()
		t.Fatalf("agent did not start in time\n%s", p.stderr.String())
	}
	p.more = make(chan string, 16)
	go func() {
		for l := range lines {
			select {
			case p.more <- l:
			default:
			}
		}
	}()
	return p
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill(t testing.TB) {
	t.Helper()
	p.cmd.Process.Kill()
	<-p.done
}

// stop sends SIGTERM and waits for a clean exit.
func (p *proc) stop(t testing.TB) {
	t.Helper()
	p.cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("agent exit: %v\n%s", err, p.stderr.String())
		}
	case <-time.After(20 * time.Second):
		p.cmd.Process.Kill()
		t.Fatal("agent did not stop on SIGTERM")
	}
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
