package metrics

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestExposition(t *testing.T) {
	h := Handler(func(w *Writer) {
		w.Counter("x_total", "Things.", 3, "reason", `a"b`)
		w.Counter("x_total", "Things.", 4, "reason", "c")
		w.Gauge("y", "A gauge.", -1)
	})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	want := "# HELP x_total Things.\n# TYPE x_total counter\nx_total{reason=\"a\\\"b\"} 3\nx_total{reason=\"c\"} 4\n" +
		"# HELP y A gauge.\n# TYPE y gauge\ny -1\n"
	if got := rec.Body.String(); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	if !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatal("content type")
	}
}
