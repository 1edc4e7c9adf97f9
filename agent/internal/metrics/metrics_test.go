package metrics

import (
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func TestExpositionParses(t *testing.T) {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "x_seconds", Help: "Latency.", Buckets: LatencyBuckets}, []string{"result"})
	h.WithLabelValues("ok").Observe(0.02)
	reg, err := NewRegistry(func(s *Sink) {
		s.Counter("x_total", "Things.", 3, "reason", `a"b`)
		s.Counter("x_total", "Things.", 4, "reason", "c")
		s.Gauge("y", "A gauge.", -1)
		s.Gauge("bad name", "Invalid: left out, the rest is served.", 1)
	}, h)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	Handler(reg, slog.New(slog.DiscardHandler)).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("does not parse: %v", err)
	}
	got := map[string]float64{}
	for _, m := range fams["x_total"].GetMetric() {
		got[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
	}
	if len(got) != 2 || got[`a"b`] != 3 || got["c"] != 4 {
		t.Errorf("x_total = %v", got)
	}
	if v := fams["y"].GetMetric()[0].GetGauge().GetValue(); v != -1 {
		t.Errorf("y = %g", v)
	}
	if n := fams["x_seconds"].GetMetric()[0].GetHistogram().GetSampleCount(); n != 1 {
		t.Errorf("x_seconds count %d", n)
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if fams[name] == nil {
			t.Errorf("no %s", name)
		}
	}
}
