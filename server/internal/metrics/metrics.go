// Package metrics is the server's Prometheus registry: one non-global
// prometheus.Registry per server (tests build several servers in one
// process), with the Go runtime and process collectors, and the server's
// own families declared by name so that call sites stay one line
// (m.Add(name, v, labels...), m.Observe(name, seconds, labels...)).
package metrics

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// ErrMisuse is counted (tollgate_metrics_misuse_total) when a call names an
// undeclared family or gives the wrong number of label values: a metric
// call is never worth failing or panicking a request.
var ErrMisuse = errors.New("metrics: undeclared family or wrong label values")

// Registry holds the server's metric families. It is safe for concurrent
// use; declarations happen at start, samples on every request.
type Registry struct {
	reg    *prometheus.Registry
	misuse prometheus.Counter

	mu       sync.RWMutex
	counters map[string]*prometheus.CounterVec
	hists    map[string]*prometheus.HistogramVec
}

// New returns a registry with the Go and process collectors registered.
func New() *Registry {
	r := &Registry{reg: prometheus.NewRegistry(),
		counters: map[string]*prometheus.CounterVec{}, hists: map[string]*prometheus.HistogramVec{}}
	r.misuse = prometheus.NewCounter(prometheus.CounterOpts{Name: "tollgate_metrics_misuse_total",
		Help: "Metric calls that named an undeclared family or the wrong labels (a bug: please report)."})
	r.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), r.misuse)
	return r
}

// Counter declares a counter family. Declaring a name again is a no-op, so
// that two components sharing a registry may both declare it.
func (r *Registry) Counter(name, help string, labels ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.counters[name]; ok {
		return
	}
	v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	if r.register(v) {
		r.counters[name] = v
	}
}

// Histogram declares a histogram family with the given bucket upper bounds
// (LatencyBuckets for request latencies).
func (r *Registry) Histogram(name, help string, buckets []float64, labels ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.hists[name]; ok {
		return
	}
	v := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
	if r.register(v) {
		r.hists[name] = v
	}
}

// GaugeFunc declares a gauge whose value is read at scrape time.
func (r *Registry) GaugeFunc(name, help string, f func() float64) {
	r.register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
}

// Register adds a custom collector (one that reads its values at scrape
// time, such as the license-status gauges).
func (r *Registry) Register(c prometheus.Collector) error {
	if err := r.reg.Register(c); err != nil {
		return fmt.Errorf("metrics: register: %w", err)
	}
	return nil
}

func (r *Registry) register(c prometheus.Collector) bool {
	if err := r.reg.Register(c); err != nil {
		r.misuse.Inc()
		return false
	}
	return true
}

// Add adds v to a counter.
func (r *Registry) Add(name string, v float64, labelValues ...string) {
	r.mu.RLock()
	vec := r.counters[name]
	r.mu.RUnlock()
	if vec == nil {
		r.misuse.Inc()
		return
	}
	c, err := vec.GetMetricWithLabelValues(labelValues...)
	if err != nil || v < 0 {
		r.misuse.Inc()
		return
	}
	c.Add(v)
}

// Observe records one observation in a histogram.
func (r *Registry) Observe(name string, v float64, labelValues ...string) {
	r.mu.RLock()
	vec := r.hists[name]
	r.mu.RUnlock()
	if vec == nil {
		r.misuse.Inc()
		return
	}
	o, err := vec.GetMetricWithLabelValues(labelValues...)
	if err != nil {
		r.misuse.Inc()
		return
	}
	o.Observe(v)
}

// Handler serves the registry in the Prometheus text format (or what the
// scraper negotiates). A collector that fails is logged and left out; the
// rest of the scrape is still served.
func (r *Registry) Handler(log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.Default()
	}
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
	})
}
