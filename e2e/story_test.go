package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/internal/testkit/brokers"
)

// The story's parameters: 4 simulated days at 4 simulated hours per real
// second (24 s), 60 samples per device and simulated hour.
const (
	storyDays  = 4
	storySpeed = 14400
	storyRate  = 60
	budgetRate = 40 // press-02's licensed samples per hour
)

// story is a provisioned server and fleet, as scripts/run-demo.sh builds.
type story struct {
	t         *testing.T
	dir       string
	serverURL string
	mqttAddr  string
	keys      map[string]string // admin, northwind, acme API keys
	lic       map[string]string // device → license id
	gwConfig  string
	children  []string
}

var idRe = regexp.MustCompile(`"id":\s*"([0-9a-f-]{36})"`)

func (s *story) ctl(who string, args ...string) string {
	s.t.Helper()
	return run(s.t, []string{"TOLLGATE_SERVER=" + s.serverURL, "TOLLGATE_API_KEY=" + s.keys[who]}, "tollgatectl", args...)
}

func jsonField(t testing.TB, doc, field string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatalf("%v: %s", err, doc)
	}
	v, ok := m[field].(string)
	if !ok {
		t.Fatalf("no %q in %s", field, doc)
	}
	return v
}

// provision starts the server and creates what the demo creates: Northwind
// (distributor) → Acme (customer) with press-01 on 3 prepaid days, press-02
// on a term license of 40 samples/hour, press-03 on Acme's trial, press-04
// on a term license (revoked during the run), and gateway gw-01 with
// children sensor-01..03 on a term license each.
func provision(t *testing.T) *story {
	s := &story{t: t, dir: t.TempDir(), keys: map[string]string{}, lic: map[string]string{}}
	data := filepath.Join(s.dir, "server")
	s.keys["admin"] = jsonField(t, run(t, nil, "tollgate-server", "init", "--data", data, "--name", "Tollgate Vendor", "-o", "json"), "admin_api_key")
	_, addrs := start(t, "tollgate-server", []string{"serve", "--data", data, "--http", "127.0.0.1:0", "--mqtt", "127.0.0.1:0"}, "http: ", "mqtt: ")
	s.serverURL, s.mqttAddr = addrs[0], addrs[1]

	s.ctl("admin", "customer", "create", "--id", "northwind", "--name", "Northwind Distribution", "--email", "ops@northwind.test")
	s.ctl("admin", "customer", "set", "northwind", "--issuer=true", "--allowed-months", "12,24,36")
	s.keys["northwind"] = jsonField(t, s.ctl("admin", "user", "create", "--customer", "northwind", "--email", "ops@northwind.test", "--role", "admin", "-o", "json"), "api_key")
	s.ctl("northwind", "customer", "create", "--id", "acme", "--name", "Acme Plastics", "--parent", "northwind", "--email", "it@acme.test")
	s.keys["acme"] = jsonField(t, s.ctl("northwind", "user", "create", "--customer", "acme", "--email", "it@acme.test", "--role", "admin", "-o", "json"), "api_key")
	trust := filepath.Join(s.dir, "trust.json")
	run(t, nil, "tollgate-server", "trust", "--data", data, "--out", trust)

	device := func(id, model, gateway string) string {
		pub := jsonField(t, run(t, nil, "tollgate-agent", "init", "--data", filepath.Join(s.dir, id), "--device-id", id, "--model", model, "--trust", trust, "-o", "json"), "public_key")
		args := []string{"device", "create", "--customer", "acme", "--id", id, "--model", model, "--public-key", pub}
		if gateway != "" {
			args = append(args, "--gateway", gateway)
		}
		s.ctl("acme", args...)
		return pub
	}
	license := func(args ...string) []string {
		out := s.ctl("admin", append([]string{"license", "create", "--customer", "northwind", "--type", "standard", "-o", "json"}, args...)...)
		seen := map[string]bool{}
		var ids []string
		for _, m := range idRe.FindAllStringSubmatch(out, -1) {
			if !seen[m[1]] {
				seen[m[1]] = true
				ids = append(ids, m[1])
			}
		}
		s.ctl("northwind", "license", "sell", "--to", "acme", "--ids", strings.Join(ids, ","))
		return ids
	}
	bind := func(lic, dev string) string {
		s.ctl("acme", "license", "bind", lic, "--device", dev)
		s.lic[dev] = lic
		return jsonField(t, s.ctl("acme", "license", "token", lic, "-o", "json"), "token")
	}

	for _, d := range []string{"press-01", "press-02", "press-03", "press-04"} {
		device(d, "press-p1", "")
	}
	device("gw-01", "gateway-g1", "")
	var children []map[string]string
	for i := 1; i <= 3; i++ {
		id := fmt.Sprintf("sensor-%02d", i)
		children = append(children, map[string]string{"id": id, "model": "sensor-s1", "public_key": device(id, "sensor-s1", "gw-01")})
		s.children = append(s.children, id)
	}
	b, _ := json.Marshal(map[string]any{"children": children, "log_level": "warn"})
	s.gwConfig = filepath.Join(s.dir, "gw-01.json")
	os.WriteFile(s.gwConfig, b, 0o600)

	trial := idRe.FindStringSubmatch(s.ctl("acme", "license", "list", "--customer", "acme", "--type", "trial", "-o", "json"))
	if trial == nil {
		t.Fatal("Acme has no trial")
	}
	activate := func(dev string, extra ...string) {
		run(t, nil, "tollgate-agent", append([]string{"activate", "--data", filepath.Join(s.dir, dev)}, extra...)...)
	}
	activate("press-01", bind(license("--billing", "days", "--days", "3", "--models", "press-*")[0], "press-01"))
	activate("press-02", bind(license("--billing", "term", "--months", "12", "--models", "press-*", "--max-samples-per-hour", fmt.Sprint(budgetRate))[0], "press-02"))
	activate("press-03", bind(trial[1], "press-03"))
	activate("press-04", bind(license("--billing", "term", "--months", "12", "--models", "press-*")[0], "press-04"))
	activate("gw-01", bind(license("--billing", "term", "--months", "12", "--models", "gateway-*")[0], "gw-01"))
	var toks []string
	for i, l := range license("--billing", "term", "--months", "12", "--models", "sensor-*", "--count", "3") {
		toks = append(toks, bind(l, s.children[i]))
	}
	tokFile := filepath.Join(s.dir, "children.tok")
	os.WriteFile(tokFile, []byte(strings.Join(toks, "\n")+"\n"), 0o600)
	activate("gw-01", "--config", s.gwConfig, tokFile)
	return s
}

// summary is the part of firmware-sim -o json the test reads.
type summary struct {
	SimFrom string `json:"sim_from"`
	SimTo   string `json:"sim_to"`
	Totals  struct {
		Sent, Accepted, Refused, Unaccounted, Queued, Delivered int64
		Deductions                                              int64
	} `json:"totals"`
	Devices []deviceSummary `json:"devices"`
}

type deviceSummary struct {
	DeviceID        string           `json:"device_id"`
	Via             string           `json:"via"`
	Sent            int64            `json:"sent"`
	Accepted        int64            `json:"accepted"`
	Refused         int64            `json:"refused"`
	Reasons         map[string]int64 `json:"refused_by_reason"`
	Deductions      int64            `json:"deductions"`
	AvailableDays   *int64           `json:"available_days"`
	Licenses        []string         `json:"licenses"`
	Blacklisted     bool             `json:"blacklisted"`
	BlacklistReason string           `json:"blacklist_reason"`
}

// newSink subscribes to topic on the broker at url, logged in as user
// with password pass (both empty on Mosquitto), and records the telemetry
// by device and seq; an envelope on another device's topic counts as bad.
// On the server's broker a service's client id is an instance of its name.
func newSink(t *testing.T, url, user, pass, topic string) *brokers.Sink {
	clientID := "e2e-sink"
	if user != "" {
		clientID = user + "/sink"
	}
	return brokers.SubscribeWith(t, url, brokers.SubscribeOptions{User: user, Password: pass, ClientID: clientID, Topic: topic, CheckTopic: true})
}

// runStory runs the fleet's agents against upstream (an MQTT URL) with the
// gateway's children on local (an MQTT URL), drives it with firmware-sim,
// revokes press-04's license two simulated days in — revoke delivers the
// signed revocation list to press-04's agent (nil: the server's broker
// pushes it) — and returns firmware-sim's summary and the simulated time
// of the revocation.
func (s *story) runStory(upstream, local string, deliver func(s *story)) (*summary, time.Time) {
	t := s.t
	origin := wall.Now().UTC().Truncate(time.Second)
	agentArgs := []string{"--broker", upstream, "--ingest", "127.0.0.1:0", "--clock-speed", fmt.Sprint(storySpeed), "--clock-origin", origin.Format(time.RFC3339)}
	for _, d := range []string{"press-01", "press-02", "press-03", "press-04", "gw-01"} {
		args := append([]string{"run", "--data", filepath.Join(s.dir, d)}, agentArgs...)
		if d == "gw-01" {
			args = append(args, "--config", s.gwConfig, "--bridge", local)
		}
		start(t, "tollgate-agent", args, "ingest listening on ")
	}
	simArgs := []string{"--rate", fmt.Sprint(storyRate), "--pattern", "steady", "--duration", fmt.Sprintf("%dd", storyDays),
		"--clock-speed", fmt.Sprint(storySpeed), "--clock-origin", origin.Format(time.RFC3339), "--bridge", local, "-o", "json"}
	for _, d := range []string{"press-01", "press-02", "press-03", "press-04", "gw-01"} {
		simArgs = append(simArgs, "--data", filepath.Join(s.dir, d))
	}
	type result struct {
		out, errOut string
		err         error
	}
	done := make(chan result, 1)
	go func() {
		out, errOut, err := runErr(nil, "firmware-sim", simArgs...)
		done <- result{out, errOut, err}
	}()
	// Two simulated days after firmware-sim's start (it needs a moment to
	// find the agents and the bridge; the summary says when it began).
	select {
	case r := <-done:
		t.Fatalf("firmware-sim ended early: %v\n%s", r.err, r.errOut)
	case <-wall.After(time.Duration(2*24*float64(time.Hour)/storySpeed) + 500*time.Millisecond):
	}
	s.ctl("admin", "license", "revoke", s.lic["press-04"])
	revokedAt := origin.Add(time.Duration(float64(wall.Now().Sub(origin)) * storySpeed))
	if deliver != nil {
		deliver(s)
	}
	var r result
	select {
	case r = <-done:
	case <-wall.After(3 * time.Minute):
		t.Fatal("firmware-sim did not finish in 3 minutes")
	}
	if r.err != nil {
		t.Fatalf("firmware-sim: %v\n%s", r.err, r.errOut)
	}
	var sum summary
	if err := json.Unmarshal([]byte(r.out), &sum); err != nil {
		t.Fatalf("firmware-sim -o json: %v\n%s", err, r.out)
	}
	t.Logf("firmware-sim: %s", r.out)
	return &sum, revokedAt
}

// checkStory asserts what the demo tells.
func checkStory(t *testing.T, sum *summary, revokedAt time.Time) {
	from, err := time.Parse(time.RFC3339, sum.SimFrom)
	if err != nil {
		t.Fatal(err)
	}
	dev := map[string]deviceSummary{}
	for _, d := range sum.Devices {
		dev[d.DeviceID] = d
		if d.Sent != storyDays*24*storyRate {
			t.Errorf("%s: sent %d, want %d (%d days at %d/h)", d.DeviceID, d.Sent, storyDays*24*storyRate, storyDays, storyRate)
		}
		if d.Accepted+d.Refused != d.Sent {
			t.Errorf("%s: accepted %d + refused %d != sent %d", d.DeviceID, d.Accepted, d.Refused, d.Sent)
		}
	}
	if len(dev) != 7 {
		t.Fatalf("devices %v, want press-01..04 and sensor-01..03", sum.Devices)
	}
	// Agents decide on their own clock when a batch arrives; a batch holds
	// a tick of simulated time (100 ms × 14,400 = 24 min), and a loaded
	// machine delays some batches more than others: allow three simulated
	// hours (0.75 s of real time) either way. The story's differences are
	// days (1,440 samples).
	const slack = 3 * storyRate
	near := func(name string, got, want int64) {
		if got < want-slack || got > want+slack {
			t.Errorf("%s = %d, want %d ± %d", name, got, want, slack)
		}
	}

	// press-01: 3 prepaid days, charged one per 24 hours of use; then no
	// day can be paid, it blacklists itself and refuses everything.
	p1 := dev["press-01"]
	near("press-01 accepted", p1.Accepted, 3*24*storyRate)
	// (Under load the agent has refused no_days more than once: a sample
	// that passed the blacklist check while another was failing to pay
	// also fails to pay.)
	if p1.Deductions != 3 || p1.AvailableDays == nil || *p1.AvailableDays != 0 || !p1.Blacklisted ||
		p1.Reasons["no_days"] < 1 || p1.Reasons["no_days"]+p1.Reasons["blacklisted"] != p1.Refused {
		t.Errorf("press-01 (3 days): %+v", p1)
	}
	// press-02: 40 samples/hour, 960 per rolling 24 hours, enforced.
	p2 := dev["press-02"]
	near("press-02 accepted", p2.Accepted, storyDays*24*budgetRate)
	if p2.Reasons["over_budget"] != p2.Refused || p2.Refused == 0 || p2.Blacklisted {
		t.Errorf("press-02 (budget): %+v", p2)
	}
	// press-03: the customer's trial takes everything.
	if p3 := dev["press-03"]; p3.Accepted != p3.Sent || p3.Blacklisted {
		t.Errorf("press-03 (trial): %+v", p3)
	}
	// press-04: accepted until the revocation reached its agent, then
	// refused revoked.
	p4 := dev["press-04"]
	near("press-04 accepted", p4.Accepted, int64(revokedAt.Sub(from).Hours()*storyRate))
	if p4.Reasons["revoked"] != p4.Refused || p4.Refused == 0 || len(p4.Licenses) != 1 || p4.Licenses[0] != "term:revoked" {
		t.Errorf("press-04 (revoked at %v, run from %v): %+v", revokedAt, from, p4)
	}
	// The gateway's children, through its local broker and bridge.
	for _, id := range []string{"sensor-01", "sensor-02", "sensor-03"} {
		if c := dev[id]; c.Via != "bridge" || c.Accepted != c.Sent {
			t.Errorf("%s: %+v", id, c)
		}
	}
	if sum.Totals.Unaccounted != 0 || sum.Totals.Deductions != 3 {
		t.Errorf("totals: %+v", sum.Totals)
	}
}

// TestStory: the demo with the server's embedded broker upstream (devices
// log in with their license tokens; the revocation is pushed over MQTT)
// and firmware-sim's local broker on the gateway.
func TestStory(t *testing.T) {
	t.Parallel()
	s := provision(t)
	_, local := start(t, "firmware-sim", []string{"--local-broker", "127.0.0.1:0", "--local-broker-dir", filepath.Join(s.dir, "local-broker")}, "local broker listening on ")
	// An application reads Acme's telemetry with a service login (svc:NAME
	// and an API key).
	sk := newSink(t, "tcp://"+s.mqttAddr, "svc:e2e", s.keys["acme"], "tollgate/v1/acme/+/telemetry")
	sum, revokedAt := s.runStory("tcp://"+s.mqttAddr, local[0], nil)
	checkStory(t, sum, revokedAt)
	// Every accepted sample was delivered to the server's broker, except
	// at most what press-04 had queued when the broker cut it off (some of
	// those may still have gone out before the cut: the queue count is
	// read after the story, the cut lands while it runs).
	if sum.Totals.Queued > 3*storyRate {
		t.Errorf("%d samples still queued", sum.Totals.Queued)
	}
	deadline := wall.Now().Add(30 * time.Second)
	for _, d := range sum.Devices {
		want := d.Accepted
		if d.DeviceID == "press-04" {
			want -= sum.Totals.Queued
		}
		for int64(sk.Unique(d.DeviceID)) < want && wall.Now().Before(deadline) {
			<-wall.After(100 * time.Millisecond)
		}
		if got := int64(sk.Unique(d.DeviceID)); got < want || got > d.Accepted {
			t.Errorf("%s: %d samples reached the application, want %d..%d (accepted %d, %d queued at the end)",
				d.DeviceID, got, want, d.Accepted, d.Accepted, sum.Totals.Queued)
		}
	}
	if n := sk.Bad(); n != 0 {
		t.Errorf("%d envelopes did not parse", n)
	}
}

// TestStoryMosquitto: the same story with Mosquitto as the agents'
// upstream broker and as the gateway's local broker. Mosquitto knows
// nothing of licenses, so the revocation list reaches press-04's agent as
// an operator would carry it: `tollgatectl revocation show --device` →
// `tollgate-agent activate`. A subscriber checks that every accepted
// sample arrived.
func TestStoryMosquitto(t *testing.T) {
	t.Parallel()
	s := provision(t)
	up, local := mosquitto(t), mosquitto(t)
	sk := newSink(t, up, "", "", "tollgate/v1/#")
	sum, revokedAt := s.runStory(up, local, func(s *story) {
		list := jsonField(t, s.ctl("acme", "revocation", "show", "--device", "press-04", "-o", "json"), "token")
		run(t, nil, "tollgate-agent", "activate", "--data", filepath.Join(s.dir, "press-04"), list)
	})
	checkStory(t, sum, revokedAt)
	if sum.Totals.Queued != 0 {
		t.Errorf("%d samples still queued with Mosquitto upstream", sum.Totals.Queued)
	}
	deadline := wall.Now().Add(30 * time.Second)
	for _, d := range sum.Devices {
		for int64(sk.Unique(d.DeviceID)) < d.Accepted && wall.Now().Before(deadline) {
			<-wall.After(100 * time.Millisecond)
		}
		if got := int64(sk.Unique(d.DeviceID)); got != d.Accepted {
			t.Errorf("%s: %d samples arrived at Mosquitto, %d accepted", d.DeviceID, got, d.Accepted)
		}
	}
	if n := sk.Bad(); n != 0 {
		t.Errorf("%d envelopes did not parse", n)
	}
}
