package ingest

import (
	"errors"
	"strings"
	"testing"

	"github.com/tollgate-iot/tollgate/agent/internal/limits"
)

var parseCases = []struct {
	name string
	body string
	n    int // samples, or -1 for an error
}{
	{"ok/single", `{"device_id":"pump-1","ts":"2026-12-01T00:00:00Z","data":{"t":1}}`, 1},
	{"ok/single-own-device", `{"data":{"t":1}}`, 1},
	{"ok/batch", `{"samples":[{"data":{}},{"device_id":"c1","data":{"x":[1,2]}}]}`, 2},
	{"ok/trailing-space", `{"data":{}}` + "\n ", 1},
	{"error/empty", ``, -1},
	{"error/not-object", `[1]`, -1},
	{"error/unknown-field", `{"data":{},"extra":1}`, -1},
	{"error/unknown-field-in-batch", `{"samples":[{"data":{},"x":1}]}`, -1},
	{"error/both", `{"device_id":"d","samples":[{"data":{}}]}`, -1},
	{"error/empty-batch", `{"samples":[]}`, -1},
	{"error/trailing-data", `{"data":{}}{"data":{}}`, -1},
	{"error/wrong-type", `{"data":{},"ts":5}`, -1},
}

func TestParseRequest(t *testing.T) {
	for _, tt := range parseCases {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseRequest([]byte(tt.body))
			if tt.n < 0 {
				if !errors.Is(err, ErrBadRequest) {
					t.Fatalf("ParseRequest = %v, want ErrBadRequest", err)
				}
				return
			}
			if err != nil || len(got) != tt.n {
				t.Fatalf("ParseRequest = %d samples, %v; want %d", len(got), err, tt.n)
			}
		})
	}
	big := `{"samples":[` + strings.Repeat(`{"data":{}},`, limits.MaxBatchSamples) + `{"data":{}}]}`
	if _, err := ParseRequest([]byte(big)); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("batch over the bound: %v", err)
	}
}

func FuzzParseRequest(f *testing.F) {
	for _, c := range parseCases {
		f.Add([]byte(c.body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		samples, err := ParseRequest(body)
		if err != nil {
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("error %v is not ErrBadRequest", err)
			}
			return
		}
		if len(samples) == 0 || len(samples) > limits.MaxBatchSamples {
			t.Fatalf("%d samples accepted", len(samples))
		}
		for i := range samples {
			_ = samples[i].Validate(limits.MaxSampleDataBytes) // must not panic
		}
	})
}
