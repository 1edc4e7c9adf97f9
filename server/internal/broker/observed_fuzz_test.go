package broker

import (
	"strings"
	"testing"
	"time"
)

// FuzzObservedParsing: no message or topic panics the observer's parsing;
// the hour is always on the hour and within the accepted range of now;
// a telemetry topic splits back into its own levels.
func FuzzObservedParsing(f *testing.F) {
	now := time.Date(2026, 5, 1, 12, 30, 0, 0, time.UTC).Unix()
	for _, s := range []string{string(envelope("2026-05-01T10:00:00Z")), `{"ts":"`, `{"ts":""}`, `{"ts":"2026-05-01T10:00:00.123456789+02:00"}`, "", "\x00"} {
		f.Add([]byte(s), "tollgate/v1/c1/d1/telemetry")
	}
	f.Add([]byte(nil), "tollgate/v1//d/telemetry")
	f.Fuzz(func(t *testing.T, payload []byte, topic string) {
		h := observedHour(payload, now)
		if h%3600 != 0 || h < now-int64(ObservedMaxAge/time.Second)-3600 || h > now+int64(ObservedMaxAhead/time.Second) {
			t.Fatalf("hour %d out of range for now %d", h, now)
		}
		c, d, ok := splitTelemetry(topic, '/')
		if ok && topic != "tollgate/v1/"+c+"/"+d+"/telemetry" {
			t.Fatalf("%q split into %q %q", topic, c, d)
		}
		if ok && (c == "" || d == "" || strings.Contains(c+d, "/")) {
			t.Fatalf("%q split into %q %q", topic, c, d)
		}
	})
}
