package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/internal/testkit/harness"
	"github.com/tollgate-iot/tollgate/internal/testkit/ports"
	"github.com/tollgate-iot/tollgate/server/internal/store/storetest"
	"github.com/tollgate-iot/tollgate/shared/clock"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// Bounds of TestReplicasRealAgents.
const (
	agentCount = 3
	agentDays  = 60 // each agent's day license
	// agentSpeed runs the agents' clocks a simulated day every 5 s, so that
	// days are charged while the replicas are killed; agentSimDays is how
	// long firmware-sim drives them.
	agentSpeed   = 17280
	agentSimDays = 4
	agentKills   = 4 // kill -9 of a replica while the agents run, each restarted
	// agentSyncEvery paces each agent's `tollgate-agent sync` (through the
	// running agent) while the replicas are killed; replicaDown is how long
	// a killed replica stays down, so that syncs and sessions meet it dead.
	agentSyncEvery = 300 * time.Millisecond
	replicaDown    = time.Second
)

// firmwareSim is the package of the sample driver the test runs.
const firmwareSim = "github.com/tollgate-iot/tollgate/firmware-sim/cmd/firmware-sim"

// realAgent is a tollgate-agent process of the test.
type realAgent struct {
	id, dir, license string
	metrics          string
	proc             *harness.Proc
	synced, failed   atomic.Int64 // `tollgate-agent sync` runs that succeeded, failed
}

// TestReplicasRealAgents runs real tollgate-agent processes — each given
// all three replicas' HTTP and MQTT addresses, in the same order — through
// three replicas over one PostgreSQL database whose brokers form one
// cluster, while firmware-sim drives samples into them at a simulated day
// every 5 s (so days are charged), each agent syncs every 300 ms
// (`tollgate-agent sync`, through the running agent's own syncer), and a
// replica is killed with SIGKILL agentKills times (each restarted after a second down):
//   - the agents carry on through the others: their syncs fail over (the
//     agents' tollgate_agent_failovers_total{upstream="server"}) and so do
//     their MQTT sessions ({upstream="broker"}); every sample the agents
//     accepted is delivered (their outboxes drain);
//   - with the first replica of every agent's list down, a last sync of
//     each agent goes through and acknowledges every deduction it wrote,
//     and its status names a broker and a server still up;
//   - the ledger holds each agent's deductions 1..n once each, none twice,
//     and the days left the agent shows are the ledger's: days − n.
func TestReplicasRealAgents(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills three servers under three agents")
	}
	pg := storetest.PostgresURL(t)
	bin := build(t)
	if _, err := harness.Build(firmwareSim); err != nil {
		t.Fatal(err)
	}
	rs, adminKey := startClusterSet(t, bin, pg, replicaCount)
	dir := t.TempDir()
	agentBin := filepath.Join(bin, "tollgate-agent")
	trust := filepath.Join(dir, "trust.json")
	harness.MustRun(t, 0, harness.Options{}, filepath.Join(bin, "tollgate-server"), "trust", "--data", rs[0].data, "--out", trust)

	admin := adminOn(t, rs[1], adminKey)
	admin.call("POST", "/v1/customers", wire.CreateCustomerRequest{ID: "acme", Name: "Acme", ParentID: "root"}, nil)
	var u wire.CreateUserResponse
	admin.call("POST", "/v1/users", wire.CreateUserRequest{CustomerID: "acme", Email: "it@acme.test", Role: "admin"}, &u)
	acme := adminOn(t, rs[2], u.APIKey)
	var ls wire.LicenseList
	admin.call("POST", "/v1/licenses", wire.CreateLicenseRequest{CustomerID: "acme", Type: "standard", Billing: "days",
		Days: agentDays, Models: []string{"*"}, Count: agentCount}, &ls)
	var servers, brokers []string
	for _, r := range rs {
		servers, brokers = append(servers, r.url), append(brokers, "tcp://"+r.mqtt)
	}
	metricsPorts := ports.Free(t, agentCount)
	agents := make([]*realAgent, agentCount)
	origin := clock.Real{}.Now().UTC().Truncate(time.Second)
	for i := range agents {
		a := &realAgent{id: fmt.Sprintf("press-%d", i), license: ls.Licenses[i].ID, metrics: fmt.Sprintf("127.0.0.1:%d", metricsPorts[i])}
		a.dir = filepath.Join(dir, a.id)
		var init struct {
			PublicKey string `json:"public_key"`
		}
		out := harness.MustRun(t, 0, harness.Options{}, agentBin, "init", "--data", a.dir, "--device-id", a.id, "--model", "press", "--trust", trust, "-o", "json")
		if err := json.Unmarshal([]byte(out), &init); err != nil {
			t.Fatalf("agent init: %v %s", err, out)
		}
		acme.call("POST", "/v1/devices", wire.CreateDeviceRequest{ID: a.id, CustomerID: "acme", Model: "press", PublicKey: init.PublicKey}, nil)
		var br wire.BindResponse
		acme.call("POST", "/v1/licenses/"+a.license+"/bind", wire.BindRequest{DeviceID: a.id}, &br)
		harness.MustRun(t, 0, harness.Options{}, agentBin, "activate", "--data", a.dir, br.Token.Token)
		a.proc = harness.Start(t, agentBin, []string{"run", "--data", a.dir, "--server", strings.Join(servers, ","),
			"--broker", strings.Join(brokers, ","), "--ingest", "127.0.0.1:0", "--metrics", a.metrics,
			"--clock-speed", strconv.Itoa(agentSpeed), "--clock-origin", origin.Format(time.RFC3339)}, harness.Options{Grace: 30 * time.Second})
		a.proc.WaitLine(t, "ingest listening on ", replicaDeadline)
		agents[i] = a
	}

	simArgs := []string{"--rate", "60", "--pattern", "steady", "--duration", fmt.Sprintf("%dd", agentSimDays),
		"--clock-speed", strconv.Itoa(agentSpeed), "--clock-origin", origin.Format(time.RFC3339), "-o", "json"}
	for _, a := range agents {
		simArgs = append(simArgs, "--data", a.dir)
	}
	simDone := make(chan harness.Result, 1)
	go func() {
		simDone <- harness.Run(replicaDeadline, harness.Options{}, harness.Binary(firmwareSim), simArgs...)
	}()

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, a := range agents {
		wg.Go(func() {
			for ctx.Err() == nil {
				if r := harness.Run(time.Minute, harness.Options{}, agentBin, "sync", "--data", a.dir, "-o", "json"); r.Err == nil {
					a.synced.Add(1)
				} else {
					a.failed.Add(1)
				}
				select {
				case <-ctx.Done():
				case <-time.After(agentSyncEvery):
				}
			}
		})
	}
	// Kill the replicas in turn — the first of every agent's lists first,
	// so that every agent has to move — each started again at once.
	killEvery := time.Duration(agentSimDays) * 24 * time.Hour / agentSpeed / (agentKills + 1)
	for k := range agentKills {
		time.Sleep(killEvery) // paces the kills over firmware-sim's run; the agents drive the load
		r := rs[k%replicaCount]
		r.kill()
		time.Sleep(replicaDown) // the replica stays dead a while: the agents' syncs and sessions meet it so
		r.start()
	}
	var sim harness.Result
	select {
	case sim = <-simDone:
	case <-time.After(replicaDeadline):
		t.Fatal("firmware-sim did not finish")
	}
	cancel()
	wg.Wait()
	if sim.Err != nil {
		t.Fatalf("firmware-sim: %v\n%s", sim.Err, sim.Stderr)
	}
	var sum struct {
		Totals struct{ Accepted, Deductions int64 } `json:"totals"`
	}
	if err := json.Unmarshal([]byte(sim.Stdout), &sum); err != nil {
		t.Fatalf("firmware-sim -o json: %v\n%s", err, sim.Stdout)
	}
	if sum.Totals.Accepted == 0 {
		t.Fatalf("the agents accepted no sample: %s", sim.Stdout)
	}

	// The first replica of every list down: the last syncs go to the next.
	rs[0].kill()
	var synced, failedSyncs int64
	for _, a := range agents {
		out := harness.MustRun(t, time.Minute, harness.Options{}, agentBin, "sync", "--data", a.dir, "-o", "json")
		var res struct {
			AckedSeq int64 `json:"acked_seq"`
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("%s sync: %v %s", a.id, err, out)
		}
		st := a.status(t, agentBin)
		if st.DeductionSeq < agentSimDays-1 || res.AckedSeq != st.DeductionSeq {
			t.Fatalf("%s: acked %d of %d deductions written (want all, and at least %d)", a.id, res.AckedSeq, st.DeductionSeq, agentSimDays-1)
		}
		left := adminOn(t, rs[1], adminKey).ledgerCheck(a, st.DeductionSeq)
		if len(st.Licenses) != 1 || st.Licenses[0].AvailableDays == nil || *st.Licenses[0].AvailableDays != left {
			t.Fatalf("%s: the agent shows %+v days left, the ledger %d", a.id, st.Licenses, left)
		}
		harness.Eventually(t, replicaDeadline, func() bool { return a.status(t, agentBin).Queue.Depth == 0 },
			a.id+"'s outbox drains through the brokers still up")
		// Its status names where it sends now: not the replica that is down.
		harness.Eventually(t, replicaDeadline, func() bool {
			up := a.status(t, agentBin).Upstream
			return up != nil && up.Connected && up.Broker != brokers[0] && up.Server != "" && up.Server != servers[0]
		}, a.id+"'s status shows a broker and server still up")
		synced, failedSyncs = synced+a.synced.Load(), failedSyncs+a.failed.Load()
	}
	var serverFailovers, brokerFailovers float64
	for _, a := range agents {
		serverFailovers += a.failovers(t, "server")
		brokerFailovers += a.failovers(t, "broker")
	}
	if serverFailovers == 0 || brokerFailovers == 0 {
		t.Fatalf("failovers: %v syncs, %v MQTT connects; want both above 0 (a replica was killed under each agent)", serverFailovers, brokerFailovers)
	}
	t.Logf("%d agents through %d replicas, %d kills: %d samples accepted (%d days charged); %d syncs ok, %d failed; failovers: %v syncs, %v MQTT connects",
		agentCount, replicaCount, agentKills+1, sum.Totals.Accepted, sum.Totals.Deductions, synced, failedSyncs, serverFailovers, brokerFailovers)
}

// status is the agent's `status -o json`.
func (a *realAgent) status(t *testing.T, agentBin string) agentStatus {
	t.Helper()
	out := harness.MustRun(t, time.Minute, harness.Options{}, agentBin, "status", "--data", a.dir, "-o", "json")
	var st agentStatus
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("%s status: %v %s", a.id, err, out)
	}
	return st
}

// failoverRe reads tollgate_agent_failovers_total from the agent's metrics.
var failoverRe = regexp.MustCompile(`(?m)^tollgate_agent_failovers_total\{upstream="(\w+)"\} (\S+)$`)

// failovers is the agent's count of moves to the next address of upstream.
func (a *realAgent) failovers(t *testing.T, upstream string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + a.metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, m := range failoverRe.FindAllStringSubmatch(string(b), -1) {
		if m[1] == upstream {
			n, _ := strconv.ParseFloat(m[2], 64)
			return n
		}
	}
	return 0
}

// ledgerCheck asserts the ledger's deductions of a's license: seqs 1..n
// charged once each, none twice, none failed; it returns the days left.
func (adm *killAdmin) ledgerCheck(a *realAgent, n int64) int64 {
	adm.t.Helper()
	var ds wire.DeductionList
	adm.call("GET", "/v1/licenses/"+a.license+"/deductions", nil, &ds)
	charged := map[int64]int{}
	for _, x := range ds.Deductions {
		if x.DeviceID != a.id || x.Failed {
			adm.t.Fatalf("%s: unexpected deduction %+v", a.id, x)
		}
		charged[x.Seq]++
	}
	for seq := int64(1); seq <= n; seq++ {
		if charged[seq] != 1 {
			adm.t.Fatalf("%s: seq %d charged %d times (of %d written)", a.id, seq, charged[seq], n)
		}
	}
	if int64(len(charged)) != n {
		adm.t.Fatalf("%s: %d seqs charged, %d written", a.id, len(charged), n)
	}
	var l wire.License
	adm.call("GET", "/v1/licenses/"+a.license, nil, &l)
	if l.AvailableDays != agentDays-n {
		adm.t.Fatalf("%s: %d days left after %d charged, want %d", a.id, l.AvailableDays, n, agentDays-n)
	}
	return l.AvailableDays
}
