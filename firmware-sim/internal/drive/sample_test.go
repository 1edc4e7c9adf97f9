package drive

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/firmware-sim/internal/pattern"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

var t0 = time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)

// TestSamplesKeepTheContract: what firmware-sim sends decodes strictly as
// the agent decodes it and passes the ingest contract's validation.
func TestSamplesKeepTheContract(t *testing.T) {
	d := NewDevice("press-01", ViaHTTP)
	var body []byte
	body = append(body, `{"samples":[`...)
	for i := 0; i < 3; i++ {
		if i > 0 {
			body = append(body, ',')
		}
		body = d.AppendSample(body, t0.Add(time.Duration(i)*1500*time.Millisecond))
	}
	body = append(body, "]}"...)
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var req wire.IngestRequest
	if err := dec.Decode(&req); err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	if len(req.Samples) != 3 || d.Sent != 3 {
		t.Fatalf("samples %d, sent %d", len(req.Samples), d.Sent)
	}
	for i, s := range req.Samples {
		if err := s.Validate(16 << 10); err != nil {
			t.Fatalf("sample %d: %v", i, err)
		}
		if ts, _ := time.Parse(time.RFC3339Nano, s.TS); !ts.Equal(t0.Add(time.Duration(i) * 1500 * time.Millisecond)) {
			t.Fatalf("sample %d ts %s", i, s.TS)
		}
	}
	c := NewDevice("sensor-01", ViaBridge)
	msg := c.AppendChildMessage(nil, t0)
	dec = json.NewDecoder(bytes.NewReader(msg))
	dec.DisallowUnknownFields()
	var s wire.Sample
	if err := dec.Decode(&s); err != nil || s.DeviceID != "" || s.Validate(16<<10) != nil {
		t.Fatalf("child message %s: %+v, %v", msg, s, err)
	}
	if c.topic != "tollgate/local/sensor-01/samples" {
		t.Fatalf("topic %q", c.topic)
	}
}

func TestParseIngestResponse(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		n          int
		err        error
	}{
		{"ok", `{"results":[{"accepted":true,"seq":1},{"accepted":false,"reason":"no_days"}]}`, 2, nil},
		{"error/count", `{"results":[{"accepted":true,"seq":1}]}`, 2, ErrAgent},
		{"error/no-reason", `{"results":[{"accepted":false}]}`, 1, ErrAgent},
		{"error/both", `{"results":[{"accepted":true,"reason":"x"}]}`, 1, ErrAgent},
		{"error/unknown-field", `{"results":[],"x":1}`, 0, ErrAgent},
		{"error/trailing", `{"results":[]} {}`, 0, ErrAgent},
		{"error/not-json", `<html>`, 0, ErrAgent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := ParseIngestResponse([]byte(tc.body), tc.n)
			if !errors.Is(err, tc.err) || (err == nil && len(res) != tc.n) {
				t.Fatalf("ParseIngestResponse = %v, %v", res, err)
			}
		})
	}
}

func FuzzParseIngestResponse(f *testing.F) {
	f.Add([]byte(`{"results":[{"accepted":true,"seq":1},{"accepted":false,"reason":"no_days"}]}`), 2)
	f.Add([]byte(`{"results":[]}`), 0)
	f.Fuzz(func(t *testing.T, b []byte, n int) {
		res, err := ParseIngestResponse(b, n)
		if err != nil {
			return
		}
		if len(res) != n {
			t.Fatalf("%d results for %d", len(res), n)
		}
		for _, r := range res {
			if r.Accepted == (r.Reason != "") {
				t.Fatalf("result %+v", r)
			}
		}
	})
}

// BenchmarkBatch is the generation hot path: schedule the samples of 100
// devices for one simulated minute at 600 samples/hour (1,000 samples per
// op) and encode them as the POST /v1/samples batch.
func BenchmarkBatch(b *testing.B) {
	p := pattern.Pattern{Kind: pattern.Steady, Rate: 600}
	devs := make([]*Device, 100)
	for i := range devs {
		devs[i] = NewDevice("press-"+itoa(i), ViaHTTP)
	}
	body := make([]byte, 0, 256<<10)
	times := make([]time.Time, 0, 64)
	from := t0
	b.ReportAllocs()
	for b.Loop() {
		to := from.Add(time.Minute)
		body = append(body[:0], `{"samples":[`...)
		for _, d := range devs {
			times = p.Append(times[:0], from, to)
			for _, ts := range times {
				body = d.AppendSample(body, ts)
				body = append(body, ',')
			}
		}
		body = append(body[:len(body)-1], "]}"...)
		from = to
	}
	b.ReportMetric(float64(len(body)), "bytes/batch")
}
