package e2e

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/internal/testkit/harness"
	"github.com/tollgate-iot/tollgate/internal/testkit/procrss"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// scaleEnv reads an integer knob of TestScale.
func scaleEnv(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// TestScale drives 10,000 devices through 100 gateway agents: each gateway
// has 100 children publishing to its own local Mosquitto, its agent's
// bridge takes them through the gate, and one Mosquitto upstream takes
// what the agents deliver. It reports the samples per second delivered to
// the upstream broker and the peak RSS (VmHWM) of the gateway agents.
// Licenses are signed by a test key, not by a server: provisioning 10,000
// devices is not what is measured.
//
//	TOLLGATE_SCALE=1 go test ./e2e -run Scale -v -timeout 30m
//
// Knobs: TOLLGATE_SCALE_GATEWAYS (100), TOLLGATE_SCALE_CHILDREN (100),
// TOLLGATE_SCALE_RATE (samples per simulated hour per device, 360),
// TOLLGATE_SCALE_SPEED (10), TOLLGATE_SCALE_MINUTES (simulated, 10).
func TestScale(t *testing.T) {
	if os.Getenv("TOLLGATE_SCALE") != "1" {
		t.Skip("TOLLGATE_SCALE=1 runs the 10,000-device scale test")
	}
	gateways := scaleEnv("TOLLGATE_SCALE_GATEWAYS", 100)
	children := scaleEnv("TOLLGATE_SCALE_CHILDREN", 100)
	rate := scaleEnv("TOLLGATE_SCALE_RATE", 360)
	speed := scaleEnv("TOLLGATE_SCALE_SPEED", 10)
	minutes := scaleEnv("TOLLGATE_SCALE_MINUTES", 10)
	dir := t.TempDir()

	li := newLocalIssuer(t, dir)
	trustFile := li.Trust
	issue := func(n int, dev string, pub ed25519.PublicKey, model string) string {
		return li.issue(n, dev, pub, model, 0)
	}

	// Provision the gateways, four at a time.
	type gw struct{ data, config string }
	gws := make([]gw, gateways)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for g := 0; g < gateways; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			id := fmt.Sprintf("gw-%03d", g)
			data := filepath.Join(dir, id)
			var doc map[string]string
			json.Unmarshal([]byte(run(t, nil, "tollgate-agent", "init", "--data", data, "--device-id", id, "--model", "gateway-g1", "--trust", trustFile, "-o", "json")), &doc)
			pub, err := token.ParsePublicKey(doc["public_key"])
			if err != nil {
				t.Error(err)
				return
			}
			var cfg []map[string]string
			toks := []string{issue(g*(children+1), id, pub, "gateway-*")}
			for c := 0; c < children; c++ {
				cid := fmt.Sprintf("gw-%03d-s%03d", g, c)
				cpub := seedKey(cid).Public().(ed25519.PublicKey)
				cfg = append(cfg, map[string]string{"id": cid, "model": "sensor-s1", "public_key": token.EncodePublicKey(cpub)})
				toks = append(toks, issue(g*(children+1)+c+1, cid, cpub, "sensor-*"))
			}
			b, _ := json.Marshal(map[string]any{"children": cfg, "log_level": "warn"})
			config := filepath.Join(dir, id+".json")
			os.WriteFile(config, b, 0o600)
			tokFile := filepath.Join(dir, id+".tok")
			os.WriteFile(tokFile, []byte(strings.Join(toks, "\n")+"\n"), 0o600)
			run(t, nil, "tollgate-agent", "activate", "--data", data, "--config", config, tokFile)
			gws[g] = gw{data, config}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	up := mosquitto(t)
	simArgs := []string{"--devices", fmt.Sprint(gateways * children), "--gateways", fmt.Sprint(gateways),
		"--rate", fmt.Sprint(rate), "--pattern", "steady", "--duration", fmt.Sprintf("%dm", minutes),
		"--clock-speed", fmt.Sprint(speed), "-o", "json"}
	agents := make([]*harness.Proc, gateways)
	for g := range gws {
		local := mosquitto(t)
		agents[g], _ = start(t, "tollgate-agent", []string{"run", "--data", gws[g].data, "--config", gws[g].config,
			"--broker", up, "--bridge", local, "--ingest", "127.0.0.1:0"}, "ingest listening on ")
		simArgs = append(simArgs, "--data", gws[g].data, "--bridge", local)
	}
	out, errOut, err := runWithin(30*time.Minute, nil, "firmware-sim", simArgs...)
	if err != nil {
		t.Fatalf("firmware-sim: %v\n%s", err, errOut)
	}
	var sum struct {
		WallSeconds        float64 `json:"wall_seconds"`
		DrainSeconds       float64 `json:"drain_seconds"`
		SamplesPerSecond   float64 `json:"samples_per_second"`
		DeliveredPerSecond float64 `json:"delivered_per_second"`
		Totals             struct {
			Devices                                                 int
			Sent, Accepted, Refused, Unaccounted, Queued, Delivered int64
		} `json:"totals"`
	}
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Logf("firmware-sim progress:\n%s", errOut)
	var peak, max int64
	for g, p := range agents {
		hwm := vmHWM(t, p.PID())
		if g == 0 {
			peak = hwm
		}
		if hwm > max {
			max = hwm
		}
	}
	t.Logf("%d gateways × %d children = %d devices; %d samples/h each at %d× for %d simulated minutes",
		gateways, children, sum.Totals.Devices, rate, speed, minutes)
	t.Logf("sent %d in %.1f s (%.0f samples/s offered); accepted %d, refused %d, unaccounted %d",
		sum.Totals.Sent, sum.WallSeconds, sum.SamplesPerSecond, sum.Totals.Accepted, sum.Totals.Refused, sum.Totals.Unaccounted)
	t.Logf("delivered to the upstream broker: %d samples, %.0f samples/s over %.1f s (run + %.1f s drain); %d left queued",
		sum.Totals.Delivered, sum.DeliveredPerSecond, sum.WallSeconds+sum.DrainSeconds, sum.DrainSeconds, sum.Totals.Queued)
	t.Logf("peak RSS (VmHWM): gateway agent gw-000 %.1f MiB; largest of the %d gateway agents %.1f MiB", float64(peak)/1024, gateways, float64(max)/1024)
	if sum.Totals.Devices != gateways*children || sum.Totals.Refused != 0 || sum.Totals.Unaccounted != 0 || sum.Totals.Accepted != sum.Totals.Sent {
		t.Errorf("totals: %+v", sum.Totals)
	}
}

// vmHWM returns the peak RSS (VmHWM) of a process in KiB.
func vmHWM(t *testing.T, pid int) int64 {
	t.Helper()
	kb, err := procrss.PeakKiB(pid)
	if err != nil {
		t.Fatal(err)
	}
	return kb
}
