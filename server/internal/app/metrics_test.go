package app

import (
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/tollgate-iot/tollgate/shared/clock"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// scrape fetches /metrics and parses it with Prometheus's own text parser:
// what a Prometheus server would read.
func (s *served) scrape() map[string]*dto.MetricFamily {
	s.t.Helper()
	resp, err := http.Get(s.http + "/metrics")
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		s.t.Fatalf("/metrics: %d %s", resp.StatusCode, b)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		s.t.Fatalf("/metrics does not parse as Prometheus text: %v", err)
	}
	return fams
}

// labelsOf renders a sample's labels as name=value pairs in the order the
// exposition has them (sorted by name).
func labelsOf(m *dto.Metric) string {
	out := ""
	for _, l := range m.GetLabel() {
		out += fmt.Sprintf("%s=%s,", l.GetName(), l.GetValue())
	}
	return out
}

// histogramCount is the observation count of the histogram sample of fam
// with exactly the given labels (0 when there is none).
func histogramCount(t *testing.T, fams map[string]*dto.MetricFamily, fam, labels string) uint64 {
	t.Helper()
	f := fams[fam]
	if f == nil {
		t.Fatalf("/metrics has no %s", fam)
	}
	if f.GetType() != dto.MetricType_HISTOGRAM {
		t.Fatalf("%s is a %v, want a histogram", fam, f.GetType())
	}
	for _, m := range f.GetMetric() {
		if labelsOf(m) == labels {
			if len(m.GetHistogram().GetBucket()) == 0 {
				t.Fatalf("%s{%s} has no buckets", fam, labels)
			}
			return m.GetHistogram().GetSampleCount()
		}
	}
	return 0
}

// TestMetricsParseWithHistogramsAfterTraffic runs the real server with its
// embedded broker, sends it an API request, a device sync and two MQTT
// CONNECTs (one accepted, one refused), and reads /metrics with the
// Prometheus text parser: the latency histograms have those observations,
// the Go and process collectors are there, and tollgate_licenses counts
// each customer's licenses by status as the license listing shows them.
func TestMetricsParseWithHistogramsAfterTraffic(t *testing.T) {
	s := serveWithBroker(t)
	s.call("POST", "/v1/customers", s.admin, wire.CreateCustomerRequest{ID: "acme", Name: "Acme"}, nil)
	var u wire.CreateUserResponse
	s.call("POST", "/v1/users", s.admin, wire.CreateUserRequest{CustomerID: "acme", Email: "it@acme.test", Role: "admin"}, &u)
	d := s.provision(u.APIKey, "press-1")
	var extra wire.LicenseList
	s.call("POST", "/v1/licenses", s.admin, wire.CreateLicenseRequest{CustomerID: "acme", Type: "standard", Billing: "term",
		Models: []string{"*"}, Count: 2}, &extra)
	s.call("POST", "/v1/licenses/"+extra.Licenses[0].ID+"/revoke", s.admin, map[string]string{}, nil)
	s.sync(d, syncproto.HourlyCount{DeviceID: d.id, Hour: clock.Real{}.Now().Truncate(time.Hour).Unix(), Accepted: 1})
	c, err := s.connect(d.id, d.token)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	c.c.Disconnect(100)
	if _, err := s.connect(d.id, "not-a-token"); err == nil {
		t.Fatal("a CONNECT with a bad token was accepted")
	}

	fams := s.scrape()
	if n := histogramCount(t, fams, "tollgate_http_request_duration_seconds",
		"method=POST,route=/v1/licenses/{id}/bind,status_class=2xx,"); n != 1 {
		t.Errorf("API latency histogram has %d bind observations, want 1", n)
	}
	if n := histogramCount(t, fams, "tollgate_sync_duration_seconds", "result=ok,"); n != 1 {
		t.Errorf("sync latency histogram has %d ok observations, want 1", n)
	}
	if n := histogramCount(t, fams, "tollgate_broker_connect_duration_seconds", "result=accepted,"); n != 1 {
		t.Errorf("CONNECT latency histogram has %d accepted, want 1", n)
	}
	if n := histogramCount(t, fams, "tollgate_broker_connect_duration_seconds", "result=denied,"); n != 1 {
		t.Errorf("CONNECT latency histogram has %d denied, want 1", n)
	}
	for _, name := range []string{"go_goroutines", "go_memstats_alloc_bytes", "process_cpu_seconds_total",
		"process_resident_memory_bytes", "tollgate_http_requests_total", "tollgate_scheduler_applied_total",
		"tollgate_broker_observed_messages", "tollgate_broker_enforced_total"} {
		if fams[name] == nil {
			t.Errorf("/metrics has no %s", name)
		}
	}

	// The expected counts come from the license listing, which reads every
	// full record; the gauge counts from the index summaries.
	var all wire.LicenseList
	s.call("GET", "/v1/licenses?limit=500", s.admin, nil, &all)
	want := map[string]float64{}
	for _, l := range all.Licenses {
		want["customer="+l.CustomerID+",status="+l.Status+","]++
	}
	if want["customer=acme,status=revoked,"] != 1 || want["customer=acme,status=active,"] != 1 {
		t.Fatalf("the test's ledger is not what it meant to build: %v", want)
	}
	got := map[string]float64{}
	for _, m := range fams["tollgate_licenses"].GetMetric() {
		got[labelsOf(m)] = m.GetGauge().GetValue()
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("tollgate_licenses = %v, want %v", got, want)
	}
}
