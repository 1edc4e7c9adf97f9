// Package metrics is a small Prometheus text-format registry: counters,
// gauges and summaries (sum and count) with label values, enough for the
// server's /metrics without a client library.
package metrics

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
)

type kind string

const (
	counter kind = "counter"
	gauge   kind = "gauge"
	summary kind = "summary"
)

type family struct {
	help   string
	kind   kind
	labels []string
	values map[string]*series // by joined label values
}

type series struct {
	labelValues []string
	value       float64 // counter/gauge value, or summary sum
	count       uint64  // summary count
}

// Registry holds metric families. It is safe for concurrent use.
type Registry struct {
	mu       sync.Mutex
	families map[string]*family
	gauges   map[string]func() float64
}

// New returns an empty registry.
func New() *Registry {
	return &Registry{families: map[string]*family{}, gauges: map[string]func() float64{}}
}

// Counter declares a counter family.
func (r *Registry) Counter(name, help string, labels ...string) {
	r.declare(name, help, counter, labels)
}

// Summary declares a summary family (sum and count of observations).
func (r *Registry) Summary(name, help string, labels ...string) {
	r.declare(name, help, summary, labels)
}

// GaugeFunc declares a gauge whose value is read at scrape time.
func (r *Registry) GaugeFunc(name, help string, f func() float64) {
	r.declare(name, help, gauge, nil)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gauges[name] = f
}

func (r *Registry) declare(name, help string, k kind, labels []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.families[name]; ok {
		panic("metrics: " + name + " declared twice")
	}
	r.families[name] = &family{help: help, kind: k, labels: labels, values: map[string]*series{}}
}

func (r *Registry) get(name string, lv []string) *series {
	f, ok := r.families[name]
	if !ok || len(lv) != len(f.labels) {
		panic(fmt.Sprintf("metrics: %s used with %d label values", name, len(lv)))
	}
	k := strings.Join(lv, "\xff")
	s, ok := f.values[k]
	if !ok {
		s = &series{labelValues: append([]string(nil), lv...)}
		f.values[k] = s
	}
	return s
}

// Add adds v to a counter.
func (r *Registry) Add(name string, v float64, labelValues ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.get(name, labelValues).value += v
}

// Observe records one observation in a summary.
func (r *Registry) Observe(name string, v float64, labelValues ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.get(name, labelValues)
	s.value += v
	s.count++
}

// WriteText writes every family in the Prometheus text format, sorted.
func (r *Registry) WriteText(w io.Writer) error {
	r.mu.Lock()
	names := make([]string, 0, len(r.families))
	for n := range r.families {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		f := r.families[n]
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", n, f.help, n, f.kind)
		if g, ok := r.gauges[n]; ok {
			r.mu.Unlock()
			v := g()
			r.mu.Lock()
			fmt.Fprintf(&b, "%s %g\n", n, v)
			continue
		}
		keys := make([]string, 0, len(f.values))
		for k := range f.values {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			s := f.values[k]
			lbl := labelText(f.labels, s.labelValues)
			if f.kind == summary {
				fmt.Fprintf(&b, "%s_sum%s %g\n%s_count%s %d\n", n, lbl, s.value, n, lbl, s.count)
			} else {
				fmt.Fprintf(&b, "%s%s %g\n", n, lbl, s.value)
			}
		}
	}
	r.mu.Unlock()
	_, err := io.WriteString(w, b.String())
	return err
}

func labelText(names, values []string) string {
	if len(names) == 0 {
		return ""
	}
	parts := make([]string, len(names))
	for i, n := range names {
		v := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(values[i])
		parts[i] = fmt.Sprintf(`%s="%s"`, n, v)
	}
	return "{" + strings.Join(parts, ",") + "}"
}
