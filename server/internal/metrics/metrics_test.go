package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/tollgate-iot/tollgate/shared/clock"
)

func scrape(t *testing.T, r *Registry) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	r.Handler(nil).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(rec.Body.String()))
	if err != nil {
		t.Fatalf("exposition does not parse: %v\n%s", err, rec.Body.String())
	}
	return fams
}

func TestRegistryExposition(t *testing.T) {
	r := New()
	r.Counter("tg_requests_total", "Requests.", "route", "code")
	r.Histogram("tg_request_seconds", "Latency.", LatencyBuckets, "route")
	r.GaugeFunc("tg_up", "Up.", func() float64 { return 1 })
	r.Add("tg_requests_total", 1, "/v1/x", "200")
	r.Add("tg_requests_total", 2, "/v1/x", "200")
	r.Add("tg_requests_total", 1, `a"b`, "404")
	r.Observe("tg_request_seconds", 0.5, "/v1/x")
	r.Observe("tg_request_seconds", 0.003, "/v1/x")
	fams := scrape(t, r)
	var got []string
	for _, m := range fams["tg_requests_total"].GetMetric() {
		got = append(got, fmt.Sprintf("%s/%s=%g", m.GetLabel()[0].GetValue(), m.GetLabel()[1].GetValue(), m.GetCounter().GetValue()))
	}
	sort.Strings(got)
	if fmt.Sprint(got) != "[200//v1/x=3 404/a\"b=1]" {
		t.Errorf("counter samples %v", got)
	}
	h := fams["tg_request_seconds"].GetMetric()[0].GetHistogram()
	if h.GetSampleCount() != 2 || h.GetSampleSum() != 0.503 || len(h.GetBucket()) != len(LatencyBuckets)+1 { // the parser adds +Inf
		t.Errorf("histogram %v", h)
	}
	if h.GetBucket()[2].GetCumulativeCount() != 1 { // 0.003 ≤ 0.005
		t.Errorf("bucket le=0.005 has %d, want 1", h.GetBucket()[2].GetCumulativeCount())
	}
	if fams["tg_up"].GetMetric()[0].GetGauge().GetValue() != 1 {
		t.Error("gauge func")
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if fams[name] == nil {
			t.Errorf("no %s: the Go and process collectors are not registered", name)
		}
	}
}

// TestMisuseIsCountedNotPanicked: an undeclared name, wrong label values
// or a second declaration under another kind neither panic nor fail the
// request; each counts in tollgate_metrics_misuse_total.
func TestMisuseIsCountedNotPanicked(t *testing.T) {
	r := New()
	r.Counter("c_total", "C.", "a")
	r.Counter("c_total", "C.", "a") // the same declaration again: a no-op
	r.Add("c_total", 1)             // wrong label count
	r.Add("nope_total", 1)          // undeclared
	r.Observe("c_total", 1, "x")    // not a histogram
	r.Histogram("c_total", "C.", LatencyBuckets, "a")
	if got := scrape(t, r)["tollgate_metrics_misuse_total"].GetMetric()[0].GetCounter().GetValue(); got != 4 {
		t.Fatalf("misuse counted %g times, want 4", got)
	}
}

func TestLicenseCollectorCachesAndCaps(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	calls := 0
	counts := map[string]map[string]int64{"acme": {"active": 3, "unused": 1}}
	var fail error
	c := NewLicenseCollector(func(context.Context) (map[string]map[string]int64, error) {
		calls++
		return counts, fail
	}, clk, slog.New(slog.DiscardHandler))
	r := New()
	if err := r.Register(c); err != nil {
		t.Fatal(err)
	}
	value := func(customer, status string) float64 {
		for _, m := range scrape(t, r)["tollgate_licenses"].GetMetric() {
			if m.GetLabel()[0].GetValue() == customer && m.GetLabel()[1].GetValue() == status {
				return m.GetGauge().GetValue()
			}
		}
		return -1
	}
	if v := value("acme", "active"); v != 3 {
		t.Fatalf("acme active = %g, want 3", v)
	}
	counts = map[string]map[string]int64{"acme": {"active": 4}}
	clk.Advance(LicenseGaugeRefresh - time.Second)
	if v := value("acme", "active"); v != 3 || calls != 1 {
		t.Fatalf("within the refresh interval: active = %g after %d counts; want the cached 3 after 1", v, calls)
	}
	clk.Advance(time.Second)
	if v := value("acme", "active"); v != 4 || calls != 2 {
		t.Fatalf("after the refresh interval: active = %g after %d counts; want 4 after 2", v, calls)
	}
	clk.Advance(LicenseGaugeRefresh)
	fail = errors.New("store closed")
	if v := value("acme", "active"); v != 4 {
		t.Fatalf("a failed count must keep the last counts, got %g", v)
	}
}

func TestCapCustomersFoldsTheSmallest(t *testing.T) {
	counts := map[string]map[string]int64{
		"big":   {"active": 10},
		"mid":   {"active": 5, "expired": 1},
		"small": {"active": 1, "expired": 2},
		"tiny":  {"unused": 1},
	}
	got := map[string]int64{}
	for _, s := range capCustomers(counts, 2) {
		got[s.customer+"/"+s.status] = s.n
	}
	want := map[string]int64{"big/active": 10, "mid/active": 5, "mid/expired": 1,
		OtherCustomers + "/active": 1, OtherCustomers + "/expired": 2, OtherCustomers + "/unused": 1}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("capCustomers = %v, want %v", got, want)
	}
}
