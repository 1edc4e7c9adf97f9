// Package metrics serves the agent's Prometheus metrics through
// client_golang. The agent's counters live where they are counted (atomic
// counters in the gate, outbox, publisher and bridge) and are read only
// when Prometheus scrapes: a Fill function writes them through a Sink into
// const metrics, so that the per-sample hot path never calls into a
// metrics library, takes a lock or allocates for metrics. Rare events
// (a sync, a CONNECT to the broker) are timed with real histograms.
package metrics

import (
	"log/slog"
	"net/http"
	"sort"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// LatencyBuckets are the upper bounds, in seconds, of the agent's latency
// histograms (sync with the license server, CONNECT to the broker): 5 ms
// to 30 s, since both cross a network that may be a cellular link, and
// the sync client's own timeout is 30 s. (A slice cannot be a constant;
// nothing writes to it.)
var LatencyBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// Fill writes one scrape's samples.
type Fill func(*Sink)

// Sink receives the samples of one scrape.
type Sink struct {
	ch chan<- prometheus.Metric
}

// Counter writes one sample of a counter; labels are name/value pairs.
func (s *Sink) Counter(name, help string, v int64, labels ...string) {
	s.sample(name, help, prometheus.CounterValue, v, labels)
}

// Gauge writes one sample of a gauge.
func (s *Sink) Gauge(name, help string, v int64, labels ...string) {
	s.sample(name, help, prometheus.GaugeValue, v, labels)
}

func (s *Sink) sample(name, help string, t prometheus.ValueType, v int64, labels []string) {
	names := make([]string, 0, len(labels)/2)
	values := make([]string, 0, len(labels)/2)
	for i := 0; i+1 < len(labels); i += 2 {
		names, values = append(names, labels[i]), append(values, labels[i+1])
	}
	// An invalid name or label set is a programming error that
	// NewConstMetric reports; NewInvalidMetric hands it to the registry,
	// which fails just that sample and logs it (ContinueOnError).
	m, err := prometheus.NewConstMetric(prometheus.NewDesc(name, help, names, nil), t, float64(v), values...)
	if err != nil {
		m = prometheus.NewInvalidMetric(prometheus.NewDesc(name, help, names, nil), err)
	}
	s.ch <- m
}

// collector reads the agent's counters at scrape time. It is unchecked
// (Describe sends nothing): its series depend on the devices and reasons
// seen, so they cannot be described in advance.
type collector struct{ fill Fill }

func (c collector) Describe(chan<- *prometheus.Desc) {}

func (c collector) Collect(ch chan<- prometheus.Metric) { c.fill(&Sink{ch: ch}) }

// NewRegistry returns a registry (never the global one: tests run several
// agents in one process) with the Go and process collectors, the agent's
// scrape-time counters written by fill, and extra collectors (histograms).
func NewRegistry(fill Fill, extra ...prometheus.Collector) (*prometheus.Registry, error) {
	reg := prometheus.NewRegistry()
	cs := append([]prometheus.Collector{collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), collector{fill}}, extra...)
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return reg, nil
}

// Handler serves reg in the Prometheus text format (or what the scraper
// negotiates). A failing sample is logged and left out.
func Handler(reg prometheus.Gatherer, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.Default()
	}
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
	})
}

// SortedKeys returns m's keys in order, for stable output.
func SortedKeys(m map[string]int64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
