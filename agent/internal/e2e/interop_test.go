package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/agent/internal/testkit"
	"github.com/tollgate-iot/tollgate/certs"
	"github.com/tollgate-iot/tollgate/internal/testkit/brokers"
	"github.com/tollgate-iot/tollgate/shared/clock"
	"github.com/tollgate-iot/tollgate/shared/token"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

func realWindow(l *token.License) {
	now := clock.Real{}.Now()
	l.NotBefore, l.NotAfter, l.IssuedAt = now.Add(-time.Hour).Unix(), now.Add(30*24*time.Hour).Unix(), now.Add(-time.Minute).Unix()
	l.MaxSamplesPerHour = 0
}

// subscribe records every telemetry envelope published on broker.
func subscribe(t *testing.T, broker string) *testkit.Sink { return testkit.Subscribe(t, broker) }

func deliver(t *testing.T, p *proc, sink *testkit.Sink, n int) {
	t.Helper()
	res := postBatch(context.Background(), p.addr, 0, n)
	if len(res) != n {
		t.Fatalf("post: %v\n%s", res, p.Stderr())
	}
	for i, r := range res {
		if !r.Accepted {
			t.Fatalf("sample %d refused: %s", i, r.Reason)
		}
	}
	if !sink.WaitUnique(n, 20*time.Second) {
		u, _, _, _ := sink.Stats()
		t.Fatalf("%d of %d samples arrived\n%s", u, n, p.Stderr())
	}
	env := sink.Get("pump-1", 1)
	if env == nil || env.CustomerID != "acme" || env.Seq != 1 {
		t.Fatalf("envelope %+v", env)
	}
}

func TestMosquittoInterop(t *testing.T) {
	m := testkit.StartMosquitto(t, "")
	data := initData(t, realWindow)
	sink := subscribe(t, m.URL)
	p := start(t, data, "--broker", m.URL)
	defer p.stop(t)
	deliver(t, p, sink, 50)
}

func TestMosquittoMutualTLS(t *testing.T) {
	dir := t.TempDir()
	if _, err := certs.Generate(dir, certs.Options{Devices: []string{"pump-1"}}); err != nil {
		t.Fatal(err)
	}
	tlsPort := testkit.FreePort(t)
	conf := fmt.Sprintf("listener %d 127.0.0.1\ncafile %s\ncertfile %s\nkeyfile %s\nrequire_certificate true\nuse_identity_as_username true\n",
		tlsPort, filepath.Join(dir, certs.CACert), filepath.Join(dir, certs.ServerCert), filepath.Join(dir, certs.ServerKey))
	m := testkit.StartMosquitto(t, conf)
	data := initData(t, realWindow)
	sink := subscribe(t, m.URL)
	// Without the device's client certificate the broker refuses the agent.
	own := t.TempDir()
	copyFile(t, filepath.Join(dir, certs.CACert), filepath.Join(own, certs.CACert))
	broker := fmt.Sprintf("ssl://localhost:%d", tlsPort)
	p := start(t, data, "--broker", broker, "--certs", own)
	res := postBatch(context.Background(), p.addr, 0, 5)
	if len(res) != 5 || !res[0].Accepted {
		t.Fatalf("samples not queued: %v", res)
	}
	// Barrier: once the agent has tried and stopped, a marker published
	// after it reaches the sink behind anything the agent got through.
	const connects = "tollgate_agent_upstream_connect_duration_seconds_count"
	p.Eventually(t, 20*time.Second, func() bool { return metric(t, p, connects+`{result="error"}`) >= 1 },
		"a refused connection attempt of the agent")
	if ok := metric(t, p, connects+`{result="ok"}`); ok != 0 {
		t.Fatalf("%d connections succeeded without a client certificate", ok)
	}
	p.stop(t)
	brokers.Barrier(t, m.URL, sink, 20*time.Second)
	if sink.Unique("pump-1") != 0 {
		t.Fatal("samples arrived without a client certificate")
	}
	// With the generated directory (device pair included) it gets through.
	p = start(t, data, "--broker", broker, "--certs", dir)
	defer p.stop(t)
	if !sink.WaitUnique(5+1, 20*time.Second) { // and the marker
		t.Fatalf("queued samples did not arrive over mTLS\n%s", p.Stderr())
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestStatusAndActivateWhileRunning(t *testing.T) {
	data, pubText := initDataKey(t, realWindow)
	p := start(t, data)
	defer p.stop(t)
	postBatch(context.Background(), p.addr, 0, 3)
	var st struct {
		DeviceID string `json:"device_id"`
		Budget   struct {
			Used24h int64 `json:"used_24h"`
		} `json:"budget"`
		Queue struct {
			Depth int64 `json:"depth"`
		} `json:"queue"`
		Licenses []struct {
			Version int64 `json:"version"`
		} `json:"licenses"`
	}
	if err := json.Unmarshal([]byte(cmdRun(t, "status", "--data", data, "-o", "json")), &st); err != nil {
		t.Fatal(err)
	}
	if st.DeviceID != "pump-1" || st.Budget.Used24h != 3 || st.Queue.Depth != 3 {
		t.Fatalf("status of the running agent = %+v", st)
	}
	// A newer token is imported through the running agent.
	pub, _ := token.ParsePublicKey(pubText)
	_, v2 := testkit.License(t, "pump-1", pub, func(l *token.License) { realWindow(l); l.Version = 2 })
	out := cmdRun(t, "activate", "--data", data, v2)
	if !strings.Contains(out, "stored") {
		t.Fatalf("activate through the running agent: %q", out)
	}
	json.Unmarshal([]byte(cmdRun(t, "status", "--data", data, "-o", "json")), &st)
	if len(st.Licenses) != 1 || st.Licenses[0].Version != 2 {
		t.Fatalf("licenses after activate = %+v", st.Licenses)
	}
	metrics := httpGet(t, "http://"+p.addr+"/metrics")
	for _, want := range []string{"tollgate_agent_queue_depth 3", `tollgate_agent_samples_accepted_total{device_id="pump-1"} 3`} {
		if !strings.Contains(metrics, want) {
			t.Fatalf("metrics lack %q:\n%s", want, metrics)
		}
	}
}

func TestUnixSocketIngest(t *testing.T) {
	data := initData(t, realWindow)
	sock := filepath.Join(t.TempDir(), "agent.sock")
	p := start(t, data, "--ingest", "unix:"+sock)
	defer p.stop(t)
	if p.addr != "unix:"+sock {
		t.Fatalf("listening on %q", p.addr)
	}
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	resp, err := c.Post("http://agent/v1/samples", "application/json", strings.NewReader(`{"samples":[{"data":{"a":1}},{"data":{"a":2}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	var out wire.IngestResponse
	json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if len(out.Results) != 2 || !out.Results[1].Accepted || out.Results[1].Seq != 2 {
		t.Fatalf("results = %+v", out.Results)
	}
	var st struct {
		Budget struct {
			Used24h int64 `json:"used_24h"`
		} `json:"budget"`
	}
	if err := json.Unmarshal([]byte(cmdRun(t, "status", "--data", data, "-o", "json")), &st); err != nil || st.Budget.Used24h != 2 {
		t.Fatalf("status over the unix socket: %+v %v", st, err)
	}
}

func TestSeparateMetricsListener(t *testing.T) {
	data := initData(t, realWindow)
	p := start(t, data, "--metrics", "127.0.0.1:0")
	defer p.stop(t)
	l, ok := p.NextLine(10 * time.Second)
	if !ok {
		t.Fatalf("no metrics address printed\n%s", p.Output())
	}
	addr, _ := strings.CutPrefix(l, "metrics listening on ")
	postBatch(context.Background(), p.addr, 0, 2)
	if m := httpGet(t, "http://"+addr+"/metrics"); !strings.Contains(m, `tollgate_agent_samples_accepted_total{device_id="pump-1"} 2`) {
		t.Fatalf("metrics on %s:\n%s", addr, m)
	}
}
