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
	"github.com/tollgate-iot/tollgate/internal/testkit/ports"
	"github.com/tollgate-iot/tollgate/shared/clock"
)

// clusterReplica is a serve process with the embedded broker in the
// replicas' broker cluster, on fixed loopback ports, so that a replica
// killed and started again is found where it was (agents are given the
// addresses once).
type clusterReplica struct {
	t         *testing.T
	bin, data string
	args      []string
	proc      *harness.Proc
	url, mqtt string
	restarts  int
}

// start runs the replica and waits until it listens.
func (r *clusterReplica) start() {
	r.t.Helper()
	r.proc = harness.Start(r.t, filepath.Join(r.bin, "tollgate-server"), r.args,
		harness.Options{Env: []string{"HOME=" + r.data}, Grace: 30 * time.Second})
	for _, want := range []string{"http: ", "mqtt: "} {
		line, _ := r.proc.NextLine(replicaDeadline)
		if !strings.HasPrefix(line, want) {
			r.t.Fatalf("replica %s printed %q, want %q…\n%s", r.data, line, want, r.proc.Output())
		}
	}
}

// kill sends SIGKILL: no shutdown, nothing flushed, whatever was in flight
// is cut.
func (r *clusterReplica) kill() {
	r.proc.Kill()
	r.restarts++
}

// startClusterSet initializes a ledger on PostgreSQL (pg) and runs n
// replicas over it whose brokers form one cluster; every replica has the
// first one's signing keys. It returns the replicas and the vendor's admin
// key.
func startClusterSet(t *testing.T, bin, pg string, n int) ([]*clusterReplica, string) {
	t.Helper()
	dir := t.TempDir()
	server := filepath.Join(bin, "tollgate-server")
	secret := filepath.Join(dir, "cluster.secret")
	if err := os.WriteFile(secret, []byte("e2e-cluster-secret-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	free := ports.Free(t, 3*n) // route, HTTP and MQTT port of each
	var routes []string
	for i := range n {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", free[i]))
	}
	rs := make([]*clusterReplica, n)
	for i := range rs {
		data := filepath.Join(dir, fmt.Sprintf("replica-%c", 'a'+i))
		r := &clusterReplica{t: t, bin: bin, data: data,
			url: fmt.Sprintf("http://127.0.0.1:%d", free[n+i]), mqtt: fmt.Sprintf("127.0.0.1:%d", free[2*n+i])}
		r.args = []string{"serve", "--data", data, "--store", pg, "--http", strings.TrimPrefix(r.url, "http://"), "--profile", "small",
			"--mqtt", r.mqtt, "--cluster", fmt.Sprintf("127.0.0.1:%d", free[i]), "--routes", strings.Join(routes, ","),
			"--server-name", fmt.Sprintf("replica-%c", 'a'+i), "--cluster-secret-file", secret, "--observed-flush-interval", "1s"}
		rs[i] = r
	}
	var init struct {
		AdminKey string `json:"admin_api_key"`
	}
	out := harness.MustRun(t, 0, harness.Options{}, server, "init", "--data", rs[0].data, "--store", pg, "-o", "json")
	if err := json.Unmarshal([]byte(out), &init); err != nil {
		t.Fatalf("init: %v %s", err, out)
	}
	for _, r := range rs[1:] {
		copyKeys(t, rs[0].data, r.data)
	}
	for _, r := range rs {
		r.start()
		t.Cleanup(func() {
			if !r.proc.Exited() {
				r.proc.Stop()
			}
		})
	}
	return rs, init.AdminKey
}

// adminOn is an API client of replica r with key.
func adminOn(t *testing.T, r *clusterReplica, key string) *killAdmin {
	s := &killServer{t: t}
	s.url.Store(&r.url)
	return &killAdmin{t: t, s: s, key: key}
}

// since is the real time elapsed since t0.
func since(t0 time.Time) time.Duration { return clock.Real{}.Now().Sub(t0) }
