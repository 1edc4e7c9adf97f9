package metrics

import (
	"strings"
	"testing"
)

func TestWriteTextFormat(t *testing.T) {
	r := New()
	r.Counter("tg_requests_total", "Requests.", "route", "code")
	r.Summary("tg_request_seconds", "Latency.", "route")
	r.GaugeFunc("tg_up", "Up.", func() float64 { return 1 })
	r.Add("tg_requests_total", 1, "/v1/x", "200")
	r.Add("tg_requests_total", 2, "/v1/x", "200")
	r.Add("tg_requests_total", 1, `a"b`, "404")
	r.Observe("tg_request_seconds", 0.5, "/v1/x")
	r.Observe("tg_request_seconds", 0.25, "/v1/x")
	var b strings.Builder
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"# TYPE tg_requests_total counter\n",
		`tg_requests_total{route="/v1/x",code="200"} 3` + "\n",
		`tg_requests_total{route="a\"b",code="404"} 1` + "\n",
		`tg_request_seconds_sum{route="/v1/x"} 0.75` + "\n",
		`tg_request_seconds_count{route="/v1/x"} 2` + "\n",
		"# TYPE tg_up gauge\ntg_up 1\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("missing %q in\n%s", want, b.String())
		}
	}
}

func TestUndeclaredOrWrongLabelsPanics(t *testing.T) {
	r := New()
	r.Counter("c", "C.", "a")
	defer func() {
		if recover() == nil {
			t.Fatal("wrong label count did not panic")
		}
	}()
	r.Add("c", 1)
}
