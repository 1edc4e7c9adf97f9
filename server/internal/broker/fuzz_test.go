package broker

import (
	"strings"
	"testing"
)

// FuzzTopicToSubject: no topic panics the mapping, a topic without
// wildcards never yields a NATS wildcard, and a telemetry topic for a
// device maps back to that device.
func FuzzTopicToSubject(f *testing.F) {
	for _, s := range []string{"tollgate/v1/c1/d1/telemetry", "a/+/b", "a/#", "/", "a//b", "a.b/c", "#", "+", "a/*", "x\x00y"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, topic string, wildcards bool) {
		subj, err := topicToSubject(topic, wildcards)
		if err != nil {
			return
		}
		if !wildcards && strings.ContainsAny(subj, "*>") {
			t.Fatalf("topic %q without wildcards mapped to %q", topic, subj)
		}
		if strings.ContainsAny(subj, " \t\r\n") {
			t.Fatalf("subject %q has whitespace", subj)
		}
		levels := strings.Split(topic, "/")
		if !wildcards && len(levels) == 5 && levels[0] == "tollgate" && levels[1] == "v1" && levels[4] == "telemetry" {
			dev, ok := telemetryDevice(subj)
			if !ok || dev != levels[3] {
				t.Fatalf("telemetry topic %q → %q → device %q, %v", topic, subj, dev, ok)
			}
		}
	})
}
