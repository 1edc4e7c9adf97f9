package runtime

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/tollgate-iot/tollgate/agent/internal/config"
	"github.com/tollgate-iot/tollgate/agent/internal/testkit"
	"github.com/tollgate-iot/tollgate/shared/clock"
)

// scrapeAgent reads addr's /metrics with Prometheus's own text parser.
func scrapeAgent(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("agent /metrics does not parse as Prometheus text: %v", err)
	}
	return fams
}

// histCount is the observation count of fam's sample labelled result.
func histCount(fams map[string]*dto.MetricFamily, fam, result string) uint64 {
	for _, m := range fams[fam].GetMetric() {
		if len(m.GetLabel()) == 1 && m.GetLabel()[0].GetValue() == result {
			return m.GetHistogram().GetSampleCount()
		}
	}
	return 0
}

// TestMetricsListenerParsesWithHistograms runs an agent with its separate
// metrics listener against a real broker and a license server stand-in,
// ingests samples and syncs, and reads the metrics listener with the
// Prometheus text parser: the sync and CONNECT latency histograms have
// observations, the Go and process collectors are there, and the
// scrape-time counters show the samples.
func TestMetricsListenerParsesWithHistograms(t *testing.T) {
	nats := testkit.StartNATS(t, t.TempDir(), 0)
	hs := answering(t, func() int64 { return clock.Real{}.Now().Unix() }, func() ([]string, string) { return []string{}, "" })
	cfg := config.Default()
	cfg.Data = filepath.Join(t.TempDir(), "data")
	cfg.Broker, cfg.Server = nats.URL, hs.URL
	cfg.Ingest, cfg.Metrics = "127.0.0.1:0", "127.0.0.1:0"
	id, err := Init(context.Background(), cfg, InitRequest{DeviceID: devID, Model: "TG-100", Trust: testkit.TrustBundle(t)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	a, err := Open(context.Background(), cfg, Options{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := a.Activate([]string{license(t, id.PublicKey, nil)}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan Addrs, 1)
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, func(ad Addrs) { ready <- ad }) }()
	defer func() { cancel(); <-done }()
	addrs := <-ready
	if got := post(t, addrs.Ingest, batch(3, "")); !got.Results[0].Accepted {
		t.Fatalf("samples refused: %+v", got.Results)
	}
	if _, err := a.Sync(ctx); err != nil {
		t.Fatalf("sync: %v", err)
	}

	// The CONNECT runs on the publisher's goroutine: poll until it is
	// recorded (a barrier, not a sleep: the test fails after 10 s).
	wall := clock.Real{}
	var fams map[string]*dto.MetricFamily
	for deadline := wall.Now().Add(10 * time.Second); ; {
		fams = scrapeAgent(t, addrs.Metrics)
		if histCount(fams, "tollgate_agent_upstream_connect_duration_seconds", "ok") >= 1 {
			break
		}
		if wall.Now().After(deadline) {
			t.Fatalf("no successful CONNECT recorded in the histogram: %v", fams["tollgate_agent_upstream_connect_duration_seconds"])
		}
		time.Sleep(20 * time.Millisecond)
	}
	if fams["tollgate_agent_upstream_connect_duration_seconds"].GetType() != dto.MetricType_HISTOGRAM {
		t.Error("the CONNECT latency is not a histogram")
	}
	if n := histCount(fams, "tollgate_agent_sync_duration_seconds", "ok"); n < 1 {
		t.Errorf("sync latency histogram has %d ok observations after a sync", n)
	}
	for _, name := range []string{"go_goroutines", "go_memstats_alloc_bytes", "process_cpu_seconds_total", "process_resident_memory_bytes"} {
		if fams[name] == nil {
			t.Errorf("agent /metrics has no %s", name)
		}
	}
	acc := fams["tollgate_agent_samples_accepted_total"].GetMetric()
	if len(acc) != 1 || acc[0].GetLabel()[0].GetValue() != devID || acc[0].GetCounter().GetValue() != 3 {
		t.Errorf("tollgate_agent_samples_accepted_total = %v, want 3 for %s", acc, devID)
	}
	if fams["tollgate_agent_queue_max"].GetMetric()[0].GetGauge().GetValue() <= 0 {
		t.Error("tollgate_agent_queue_max is not a positive gauge")
	}
}
