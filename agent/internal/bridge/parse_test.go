package bridge

import (
	"errors"
	"strings"
	"testing"
)

var parseCases = []struct {
	name    string
	topic   string
	payload string
	ok      bool
}{
	{"ok", "tollgate/local/child-1/samples", `{"data":{"t":1}}`, true},
	{"ok/with-ts-and-id", "tollgate/local/child-1/samples", `{"device_id":"child-1","ts":"2026-12-01T00:00:00Z","data":{}}`, true},
	{"error/other-id", "tollgate/local/child-1/samples", `{"device_id":"child-2","data":{}}`, false},
	{"error/topic", "tollgate/v1/acme/child-1/telemetry", `{"data":{}}`, false},
	{"error/topic-wildcard", "tollgate/local/#/samples", `{"data":{}}`, false},
	{"error/topic-nested", "tollgate/local/a/b/samples", `{"data":{}}`, false},
	{"error/unknown-field", "tollgate/local/c/samples", `{"data":{},"x":1}`, false},
	{"error/trailing", "tollgate/local/c/samples", `{"data":{}} {}`, false},
	{"error/not-json", "tollgate/local/c/samples", `hello`, false},
	{"error/data-array", "tollgate/local/c/samples", `{"data":[1]}`, false},
	{"error/too-large", "tollgate/local/c/samples", `{"data":{"x":"` + strings.Repeat("a", 20000) + `"}}`, false},
}

func TestParseMessage(t *testing.T) {
	for _, tt := range parseCases {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseMessage(tt.topic, []byte(tt.payload))
			if (err == nil) != tt.ok {
				t.Fatalf("ParseMessage = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrBadMessage) {
				t.Fatalf("%v is not ErrBadMessage", err)
			}
			if err == nil && s.DeviceID != "child-1" && s.DeviceID != "c" {
				t.Fatalf("device id %q", s.DeviceID)
			}
		})
	}
	if ChildTopic("c") != "tollgate/local/c/samples" {
		t.Fatal("topic scheme changed")
	}
}

func FuzzParseMessage(f *testing.F) {
	for _, c := range parseCases {
		f.Add(c.topic, []byte(c.payload))
	}
	f.Fuzz(func(t *testing.T, topic string, payload []byte) {
		s, err := ParseMessage(topic, payload)
		if err != nil {
			if !errors.Is(err, ErrBadMessage) {
				t.Fatalf("error %v is not ErrBadMessage", err)
			}
			return
		}
		if ChildTopic(s.DeviceID) != topic {
			t.Fatalf("accepted topic %q for device %q", topic, s.DeviceID)
		}
	})
}
