package e2e

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/tollgate-iot/tollgate/agent/internal/testkit"
	"github.com/tollgate-iot/tollgate/shared/clock"
)

// startLicenseServerWithBroker is startLicenseServer with the embedded
// MQTT broker on a free loopback port (or, with args --broker URL, joined
// to that external broker); it returns the server and what serve printed
// after mqtt: (host:port, or the external URL).
func startLicenseServerWithBroker(t *testing.T, args ...string) (*licenseServer, string) {
	t.Helper()
	if len(args) == 0 {
		args = []string{"--mqtt", "127.0.0.1:0"}
	}
	return serveLicenseServer(t, true, append([]string{"--profile", "small"}, args...)...)
}

// pushedStatus is the part of `tollgate-agent status -o json` read here.
type pushedStatus struct {
	Licenses []struct {
		ID            string `json:"id"`
		Status        string `json:"status"`
		Version       int64  `json:"version"`
		AvailableDays *int64 `json:"available_days"`
	} `json:"licenses"`
}

func pushedStatusOf(t *testing.T, data string) pushedStatus {
	t.Helper()
	var st pushedStatus
	if err := json.Unmarshal([]byte(cmdRun(t, "status", "--data", data, "-o", "json")), &st); err != nil || len(st.Licenses) != 1 {
		t.Fatalf("status: %+v, %v", st, err)
	}
	return st
}

// watchTelemetry subscribes as a service account of acme to the device's
// telemetry on the server's broker and counts what arrives.
func watchTelemetry(t *testing.T, broker, apiKey, dev string) *atomic.Int64 {
	t.Helper()
	var n atomic.Int64
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + broker).SetClientID("svc:dashboard/" + dev).
		SetUsername("svc:dashboard").SetPassword(apiKey).SetOrderMatters(false).SetConnectTimeout(5 * time.Second))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("service account connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	if tok := c.Subscribe("tollgate/v1/acme/+/telemetry", 1, func(mqtt.Client, mqtt.Message) { n.Add(1) }); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	return &n
}

// TestTokenPushAndRevocationReachOnlineAgent runs the real server with its
// embedded broker and a real agent publishing to it: a top-up of the
// agent's day license reaches the online agent as a pushed token within
// 2 s, without a sync; a revocation stops its telemetry within 2 s (the
// pushed list refuses samples at the gate, the broker cuts the connection
// and refuses the token at CONNECT).
func TestTokenPushAndRevocationReachOnlineAgent(t *testing.T) {
	t.Parallel()
	srv, broker := startLicenseServerWithBroker(t)
	acme := srv.customer()
	data, license := srv.initAgent(acme, "press-10")
	seen := watchTelemetry(t, broker, acme, "press-10")
	p := start(t, data, "--broker", "tcp://"+broker)
	defer p.stop(t)
	wall := clock.Real{}

	// The agent is online once its telemetry arrives (it subscribes to its
	// control topic before it publishes).
	for deadline := wall.Now().Add(20 * time.Second); seen.Load() == 0; time.Sleep(50 * time.Millisecond) {
		if rs := postBatch(t.Context(), p.addr, 1, 1); len(rs) != 1 || !rs[0].Accepted {
			t.Fatalf("sample: %+v", rs)
		}
		if wall.Now().After(deadline) {
			t.Fatalf("no telemetry from the agent at the broker\n%s", p.Stderr())
		}
	}

	before := pushedStatusOf(t, data).Licenses[0]
	start := wall.Now()
	srv.run(srv.admin, nil, "license", "add-days", license, "--days", "5")
	var after pushedStatus
	for {
		after = pushedStatusOf(t, data)
		if after.Licenses[0].Version > before.Version || wall.Now().Sub(start) > 10*time.Second {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	took := wall.Now().Sub(start)
	if after.Licenses[0].Version <= before.Version {
		t.Fatalf("no pushed token within 10 s: version %d → %d\n%s", before.Version, after.Licenses[0].Version, p.Stderr())
	}
	t.Logf("top-up reached the online agent %v after the request was sent (version %d → %d, days %v → %v)",
		took, before.Version, after.Licenses[0].Version, *before.AvailableDays, *after.Licenses[0].AvailableDays)
	if *after.Licenses[0].AvailableDays != *before.AvailableDays+5 {
		t.Fatalf("days %d → %d, want +5", *before.AvailableDays, *after.Licenses[0].AvailableDays)
	}
	if took > 2*time.Second {
		t.Fatalf("the pushed token took %v, want within 2 s", took)
	}
	var ls struct {
		LastSync *string `json:"last_sync"`
	}
	if json.Unmarshal([]byte(cmdRun(t, "status", "--data", data, "-o", "json")), &ls); ls.LastSync != nil {
		t.Fatal("the agent synced: the token did not come by push")
	}

	// Revoke: within 2 s samples are refused and nothing more arrives.
	start = wall.Now()
	srv.run(srv.admin, nil, "license", "revoke", license)
	var reason string
	for i := 0; reason != "revoked" && wall.Now().Sub(start) < 10*time.Second; i++ {
		if rs := postBatch(t.Context(), p.addr, 100+i, 1); len(rs) == 1 && !rs[0].Accepted {
			reason = rs[0].Reason
		}
		time.Sleep(20 * time.Millisecond)
	}
	took = wall.Now().Sub(start)
	if reason != "revoked" {
		t.Fatalf("after the revoke samples are refused %q, want revoked\n%s", reason, p.Stderr())
	}
	t.Logf("revocation stopped the online agent's telemetry %v after the request was sent", took)
	if took > 2*time.Second {
		t.Fatalf("revocation took %v, want within 2 s", took)
	}
	stopped := seen.Load()
	for i := range 5 {
		if rs := postBatch(t.Context(), p.addr, 200+i, 1); len(rs) != 1 || rs[0].Accepted {
			t.Fatalf("sample after the revocation: %+v, want refused", rs)
		}
	}
	// Barrier: the broker cut the agent off (it can publish nothing more),
	// and the dashboard subscriber has every message the server's own
	// observer of the broker counted.
	p.Eventually(t, 10*time.Second, func() bool {
		return metric(t, p, "tollgate_agent_upstream_connected") == 0 &&
			serverMetric(t, srv, `tollgate_broker_enforced_total{action="disconnect"}`) >= 1
	}, "the broker to disconnect the revoked agent")
	p.Eventually(t, 10*time.Second, func() bool { return seen.Load() >= serverMetric(t, srv, "tollgate_broker_observed_messages") },
		"the dashboard to have every message the broker observed")
	if n := seen.Load(); n != stopped {
		t.Fatalf("%d samples reached the broker after the revocation", n-stopped)
	}
}

// TestTokenPushThroughMosquitto: with serve --broker tcp://(mosquitto) and
// the agent publishing to the same Mosquitto, a top-up still reaches the
// online agent as a pushed token, and a revocation still stops it at its
// own gate (Mosquitto disconnects nobody: the agent enforces alone).
func TestTokenPushThroughMosquitto(t *testing.T) {
	t.Parallel()
	m := testkit.StartMosquitto(t, "")
	srv, printed := startLicenseServerWithBroker(t, "--broker", m.URL)
	if printed != m.URL {
		t.Fatalf("serve printed mqtt: %s, want %s", printed, m.URL)
	}
	acme := srv.customer()
	data, license := srv.initAgent(acme, "press-11")
	sink := testkit.Subscribe(t, m.URL)
	p := start(t, data, "--broker", m.URL)
	defer p.stop(t)
	wall := clock.Real{}
	for deadline := wall.Now().Add(20 * time.Second); !sink.Has("press-11", 1); time.Sleep(50 * time.Millisecond) {
		postBatch(t.Context(), p.addr, 1, 1)
		if wall.Now().After(deadline) {
			t.Fatalf("no telemetry from the agent on mosquitto\n%s", p.Stderr())
		}
	}
	before := pushedStatusOf(t, data).Licenses[0]
	srv.run(srv.admin, nil, "license", "add-days", license, "--days", "5")
	deadline := wall.Now().Add(10 * time.Second)
	for pushedStatusOf(t, data).Licenses[0].Version <= before.Version {
		if wall.Now().After(deadline) {
			t.Fatalf("no pushed token through mosquitto within 10 s\n%s", p.Stderr())
		}
		time.Sleep(20 * time.Millisecond)
	}
	srv.run(srv.admin, nil, "license", "revoke", license)
	var reason string
	for i := 0; reason != "revoked" && wall.Now().Before(deadline); i++ {
		if rs := postBatch(t.Context(), p.addr, 100+i, 1); len(rs) == 1 && !rs[0].Accepted {
			reason = rs[0].Reason
		}
		time.Sleep(20 * time.Millisecond)
	}
	if reason != "revoked" {
		t.Fatalf("after the revoke samples are refused %q, want revoked\n%s", reason, p.Stderr())
	}
}

// TestRevocationReachesAgentWhosePushChannelIsDown: an agent whose broker
// is unreachable misses the pushed revocation list; its next sync brings
// it, and its samples are refused from then on.
func TestRevocationReachesAgentWhosePushChannelIsDown(t *testing.T) {
	t.Parallel()
	srv, _ := startLicenseServerWithBroker(t)
	acme := srv.customer()
	data, license := srv.initAgent(acme, "press-12")
	down := fmt.Sprintf("tcp://127.0.0.1:%d", testkit.FreePort(t)) // nothing listens there
	p := start(t, data, "--broker", down, "--server", srv.url)
	defer p.stop(t)
	if rs := postBatch(t.Context(), p.addr, 1, 1); len(rs) != 1 || !rs[0].Accepted {
		t.Fatalf("sample before the revoke: %+v", rs)
	}
	// The day that sample deducted is first reported after the revoke: it
	// was made before it, so it is charged, not an overdraft (the device is
	// not blacklisted). Times are whole seconds and the agent's effective
	// time may lead the server's by up to one (its persisted high-water
	// mark is rounded up): the revoke comes two seconds later.
	time.Sleep(2 * time.Second) // spaces two whole-second timestamps; not a wait for an outcome
	pushes := serverMetric(t, srv, `tollgate_broker_enforced_total{action="push"}`)
	srv.run(srv.admin, nil, "license", "revoke", license)
	// Barrier: the server has pushed the revocation list (to a broker the
	// agent cannot reach).
	p.Eventually(t, 10*time.Second, func() bool {
		return serverMetric(t, srv, `tollgate_broker_enforced_total{action="push"}`) > pushes
	}, "the server to push the revocation list")
	if rs := postBatch(t.Context(), p.addr, 2, 1); len(rs) != 1 || !rs[0].Accepted {
		t.Fatalf("without its push channel the agent cannot know yet: %+v", rs)
	}
	cmdRun(t, "sync", "--data", data)
	if rs := postBatch(t.Context(), p.addr, 3, 1); len(rs) != 1 || rs[0].Accepted || rs[0].Reason != "revoked" {
		t.Fatalf("sample after the sync: %+v", rs)
	}
	if v := srv.syncView(srv.admin, "press-12"); v.AckedSeq < 1 || v.Overdrafts != 0 {
		t.Fatalf("the day deducted before the revoke: server sync view %+v, want it acked and no overdraft", v)
	}
}

// serverMetric reads one sample of the license server's /metrics (0 if
// absent).
func serverMetric(t testing.TB, srv *licenseServer, name string) int64 {
	t.Helper()
	for _, l := range strings.Split(httpGet(t, srv.url+"/metrics"), "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return int64(f)
		}
	}
	return 0
}
