package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/tollgate-iot/tollgate/agent/internal/bridge"
	"github.com/tollgate-iot/tollgate/agent/internal/config"
	"github.com/tollgate-iot/tollgate/agent/internal/testkit"
	"github.com/tollgate-iot/tollgate/internal/testkit/procrss"
	"github.com/tollgate-iot/tollgate/shared/token"
)

func childID(i int) string { return fmt.Sprintf("child-%04d", i) }

// gateway initializes a gateway agent with n configured children, of
// which the first licensed ones get a license each; it returns the data
// dir and the config file.
func gateway(t testing.TB, n, licensed int) (string, string) {
	t.Helper()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	trust := filepath.Join(dir, "trust.json")
	os.WriteFile(trust, testkit.TrustBundle(t), 0o644)
	cfg := config.Config{}
	for i := 0; i < n; i++ {
		cfg.Children = append(cfg.Children, config.Child{ID: childID(i), Model: "TG-S1", PublicKey: token.EncodePublicKey(testkit.Pub(childID(i)))})
	}
	cfgFile := filepath.Join(dir, "agent.json")
	b, _ := json.Marshal(map[string]any{"children": cfg.Children, "log_level": "warn"})
	os.WriteFile(cfgFile, b, 0o600)
	runCmd(t, "init", "--data", data, "--device-id", "gw-1", "--model", "TG-GW", "--trust", trust)
	var toks strings.Builder
	for i := 0; i < licensed; i++ {
		_, text := testkit.License(t, childID(i), testkit.Pub(childID(i)), func(l *token.License) {
			realWindow(l)
			l.LicenseID = fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i)
		})
		toks.WriteString(text + "\n")
	}
	if licensed > 0 {
		f := filepath.Join(dir, "children.tok")
		os.WriteFile(f, []byte(toks.String()), 0o600)
		runCmd(t, "activate", "--data", data, "--config", cfgFile, f)
	}
	return data, cfgFile
}

// runCmd is cmdRun for testing.TB.
func runCmd(t testing.TB, args ...string) string {
	t.Helper()
	out, err := execAgent(args...)
	if err != nil {
		t.Fatalf("tollgate-agent %v: %v", args, err)
	}
	return out
}

// children publishes samples for child devices to the local broker.
type children struct{ c mqtt.Client }

func newChildren(t testing.TB, broker string) *children {
	t.Helper()
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker).SetClientID("children").SetOrderMatters(false))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("children connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return &children{c: c}
}

func (ch *children) publish(t testing.TB, id, payload string) {
	t.Helper()
	tok := ch.c.Publish(bridge.ChildTopic(id), 1, false, payload)
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish for %s: %v", id, tok.Error())
	}
}

// waitBridge publishes a probe for child 0 until the agent accepted one,
// so that the bridge's subscription exists before the test proper.
func waitBridge(t testing.TB, ch *children, p *proc) {
	t.Helper()
	for i := 0; i < 100; i++ {
		ch.publish(t, childID(0), `{"data":{"probe":true}}`)
		if metric(t, p, "tollgate_agent_bridge_accepted_total") >= 1 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the bridge never took a child sample\n%s", p.Stderr())
}

func TestBridgeEnforcesChildLicenses(t *testing.T) {
	data, cfgFile := gateway(t, 3, 2) // child-0002 is configured but unlicensed
	up := testkit.StartNATS(t, t.TempDir(), 0)
	local := testkit.StartNATSNoSink(t, t.TempDir())
	p := start(t, data, "--config", cfgFile, "--broker", up.URL, "--bridge", local.URL)
	defer p.stop(t)
	ch := newChildren(t, local.URL)
	waitBridge(t, ch, p)
	for i := 0; i < 10; i++ {
		ch.publish(t, childID(1), fmt.Sprintf(`{"data":{"n":%d}}`, i))
		ch.publish(t, childID(2), `{"data":{"n":0}}`)
		ch.publish(t, "stranger", `{"data":{"n":0}}`)
	}
	ch.publish(t, childID(1), `not json`)
	// Each child's samples arrive under its own id, in the order it
	// published them.
	for seq := int64(1); seq <= 10; seq++ {
		p.Eventually(t, 10*time.Second, func() bool { return up.Sink.Has(childID(1), seq) }, fmt.Sprintf("child-0001 seq %d upstream", seq))
		env := up.Sink.Get(childID(1), seq)
		if want := fmt.Sprintf(`{"n":%d}`, seq-1); env == nil || string(env.Data) != want {
			t.Fatalf("child-0001 seq %d = %+v, want data %s\n%s", seq, env, want, p.Stderr())
		}
	}
	var st struct {
		Refused  map[string]int64 `json:"refused"`
		Children []struct {
			DeviceID  string `json:"device_id"`
			SampleSeq int64  `json:"sample_seq"`
		} `json:"children"`
	}
	p.Eventually(t, 5*time.Second, func() bool {
		json.Unmarshal([]byte(runCmd(t, "status", "--data", data, "--config", cfgFile, "-o", "json")), &st)
		return st.Refused["no_license"] == 10 && st.Refused["unknown_device"] == 10
	}, "10 no_license and 10 unknown_device refusals in the status")
	if len(st.Children) != 3 {
		t.Fatalf("children in status = %+v", st.Children)
	}
	if m := httpGet(t, "http://"+p.addr+"/metrics"); !strings.Contains(m, "tollgate_agent_bridge_invalid_total 1") {
		t.Fatalf("invalid child message not counted:\n%s", m)
	}
}

// BenchmarkBridgeRSS measures the peak RSS (VmHWM) of an agent process in
// bridge mode serving 1,000 licensed child devices while each of them
// sends samples through it (target ≤ 64 MiB).
func BenchmarkBridgeRSS(b *testing.B) {
	const n, perChild = 1000, 10
	data, cfgFile := gateway(b, n, n)
	up := testkit.StartNATSNoSink(b, b.TempDir())
	local := testkit.StartNATSNoSink(b, b.TempDir())
	for b.Loop() {
		p := start(b, data, "--config", cfgFile, "--broker", up.URL, "--bridge", local.URL)
		ch := newChildren(b, local.URL)
		waitBridge(b, ch, p)
		for k := 0; k < perChild; k++ {
			for i := 0; i < n; i++ {
				ch.publish(b, childID(i), fmt.Sprintf(`{"data":{"k":%d,"temperature":21.5,"humidity":40.2}}`, k))
			}
		}
		i := 0
		for ; i < 600 && metric(b, p, "tollgate_agent_bridge_accepted_total") < n*perChild; i++ {
			time.Sleep(100 * time.Millisecond)
		}
		if i == 600 {
			m := httpGet(b, "http://"+p.addr+"/metrics")
			b.Fatalf("bridge did not take all samples:\n%s\n%s", grepLines(m, "bridge|refused|queue"), tail(p.Stderr(), 3000))
		}
		hwm := peakRSS(b, p.PID())
		p.stop(b)
		b.ReportMetric(float64(hwm)/1024, "peak_rss_MiB")
	}
}

// peakRSS returns the peak RSS (VmHWM) of a process in KiB.
func peakRSS(t testing.TB, pid int) int64 {
	t.Helper()
	kb, err := procrss.PeakKiB(pid)
	if err != nil {
		t.Fatal(err)
	}
	return kb
}

func grepLines(s, words string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		for _, w := range strings.Split(words, "|") {
			if strings.Contains(l, w) && !strings.HasPrefix(l, "#") {
				out = append(out, l)
				break
			}
		}
	}
	return strings.Join(out, "\n")
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// metric returns the value of an unlabelled metric of the agent.
func metric(t testing.TB, p *proc, name string) int64 {
	t.Helper()
	for _, l := range strings.Split(httpGet(t, "http://"+p.addr+"/metrics"), "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

// TestBridgeSurvivesKill kills the gateway agent while children publish:
// every message the local broker accepted from a child reaches upstream
// (the bridge acknowledges only after commit, so the local broker
// redelivers what the agent had not committed).
func TestBridgeSurvivesKill(t *testing.T) {
	const perChild = 150
	data, cfgFile := gateway(t, 3, 3)
	up := testkit.StartNATS(t, t.TempDir(), 0)
	// Mosquitto as the gateway's local broker: it redelivers a persistent
	// session's unacknowledged messages as soon as the bridge reconnects
	// (the NATS MQTT listener waits for its ack_wait, 30 s by default).
	local := testkit.StartMosquitto(t, "")
	args := []string{"--config", cfgFile, "--broker", up.URL, "--bridge", local.URL}
	p := start(t, data, args...)
	ch := newChildren(t, local.URL)
	waitBridge(t, ch, p)
	for k := 0; k < perChild; k++ {
		for i := 1; i < 3; i++ {
			ch.publish(t, childID(i), fmt.Sprintf(`{"data":{"k":%d}}`, k))
		}
		if k == perChild/3 || k == 2*perChild/3 {
			p.kill(t)
			p = start(t, data, args...)
		}
	}
	defer p.stop(t)
	for i := 1; i < 3; i++ {
		for k := 0; k < perChild; k++ {
			want := fmt.Sprintf(`{"k":%d}`, k)
			if !waitData(up.Sink, childID(i), want, 20*time.Second) {
				t.Fatalf("%s sample %s acknowledged by the local broker never arrived upstream\n%s", childID(i), want, tail(p.Stderr(), 2000))
			}
		}
	}
	_, dups, conflicts, _ := up.Sink.Stats()
	if len(conflicts) > 0 {
		t.Fatalf("seq reused: %v", conflicts)
	}
	// A message the broker redelivered after a kill is recognized: no
	// child sample is committed under two seqs.
	for i := 1; i < 3; i++ {
		seqOf := map[string]int64{}
		for seq := int64(1); ; seq++ {
			env := up.Sink.Get(childID(i), seq)
			if env == nil {
				break
			}
			if prev, ok := seqOf[string(env.Data)]; ok {
				t.Fatalf("%s sample %s committed twice, as seq %d and %d", childID(i), env.Data, prev, seq)
			}
			seqOf[string(env.Data)] = seq
		}
		if len(seqOf) != perChild {
			t.Fatalf("%s: %d distinct samples upstream, want %d", childID(i), len(seqOf), perChild)
		}
	}
	t.Logf("bridge kill test: %d samples per child, %d duplicate envelopes (same seq), redelivered %d in the last run",
		perChild, dups, metric(t, p, "tollgate_agent_bridge_redelivered_total"))
}

// waitData waits until some envelope of device carries data.
func waitData(sink *testkit.Sink, device, data string, timeout time.Duration) bool {
	for i := 0; i < int(timeout/(20*time.Millisecond)); i++ {
		for seq := int64(1); ; seq++ {
			env := sink.Get(device, seq)
			if env == nil {
				break
			}
			if string(env.Data) == data {
				return true
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// pausableProxy forwards TCP between the bridge and its local broker; with
// drop set it swallows what the bridge sends (its PUBACKs among it) while
// still forwarding what the broker sends.
type pausableProxy struct {
	URL  string
	drop atomic.Bool
}

func startPausableProxy(t testing.TB, brokerURL string) *pausableProxy {
	t.Helper()
	target := strings.TrimPrefix(brokerURL, "tcp://")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	px := &pausableProxy{URL: "tcp://" + ln.Addr().String()}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, c, u)
			mu.Unlock()
			go func() { io.Copy(c, u); c.Close(); u.Close() }()
			go func() {
				buf := make([]byte, 32<<10)
				for {
					n, err := c.Read(buf)
					if n > 0 && !px.drop.Load() {
						if _, werr := u.Write(buf[:n]); werr != nil {
							break
						}
					}
					if err != nil {
						break
					}
				}
				c.Close()
				u.Close()
			}()
		}
	}()
	return px
}

// TestBridgeRedeliveryKeepsSeq kills the gateway agent after it committed
// a child's sample but before the local broker got the PUBACK (a proxy
// swallows it), so Mosquitto redelivers the message (DUP, same packet id)
// to the restarted agent: it must be acknowledged without a new commit,
// so that the child's next sample gets seq 2 and upstream sees the
// redelivered one only under seq 1.
func TestBridgeRedeliveryKeepsSeq(t *testing.T) {
	data, cfgFile := gateway(t, 2, 2)
	up := testkit.StartNATS(t, t.TempDir(), 0)
	local := testkit.StartMosquitto(t, "")
	px := startPausableProxy(t, local.URL)
	args := []string{"--config", cfgFile, "--broker", up.URL, "--bridge", px.URL}
	p := start(t, data, args...)
	ch := newChildren(t, local.URL)
	waitBridge(t, ch, p) // child-0000 probes; child-0001 is the subject

	px.drop.Store(true)
	before := metric(t, p, "tollgate_agent_bridge_accepted_total")
	ch.publish(t, childID(1), `{"data":{"k":"once"}}`)
	i := 0
	for ; i < 200 && metric(t, p, "tollgate_agent_bridge_accepted_total") < before+1; i++ {
		time.Sleep(50 * time.Millisecond)
	}
	if i == 200 {
		t.Fatalf("the bridge did not commit the sample\n%s", tail(p.Stderr(), 2000))
	}
	p.kill(t) // committed, PUBACK never reached the broker
	px.drop.Store(false)

	p = start(t, data, args...)
	defer p.stop(t)
	// Mosquitto resends the in-flight message as soon as the session
	// resumes, before anything published after it.
	ch.publish(t, childID(1), `{"data":{"k":"next"}}`)
	for seq, want := range map[int64]string{1: `{"k":"once"}`, 2: `{"k":"next"}`} {
		// A liveness bound (the restarted agent reconnects both brokers
		// first); it ran out at 20 s once beside the whole CI suite.
		p.Eventually(t, 60*time.Second, func() bool { return up.Sink.Has(childID(1), seq) }, fmt.Sprintf("child-0001 seq %d upstream", seq))
		if env := up.Sink.Get(childID(1), seq); string(env.Data) != want {
			t.Fatalf("child-0001 seq %d = %+v, want data %s\n%s", seq, env, want, tail(p.Stderr(), 2000))
		}
	}
	// Barrier: a marker published after both takes the next seq, 3, unless
	// the redelivery was committed again (then seq 3 is its copy).
	ch.publish(t, childID(1), `{"data":{"k":"marker"}}`)
	p.Eventually(t, 20*time.Second, func() bool { return up.Sink.Has(childID(1), 3) }, "child-0001's marker upstream")
	if env := up.Sink.Get(childID(1), 3); string(env.Data) != `{"k":"marker"}` {
		t.Fatalf("child-0001 seq 3 = %+v, want the marker (the redelivery was committed again)", env)
	}
	if got := metric(t, p, "tollgate_agent_bridge_redelivered_total"); got < 1 {
		t.Fatalf("redelivered = %d, want ≥ 1 (received %d, accepted %d)", got,
			metric(t, p, "tollgate_agent_bridge_received_total"), metric(t, p, "tollgate_agent_bridge_accepted_total"))
	}
}
