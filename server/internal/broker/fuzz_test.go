package broker

import (
	"fmt"
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

// FuzzMQTTClientID: whatever a client sends as its client id, the name
// nats-server gives its connection yields exactly that id and no other,
// and checkClientID accepts it for a device only if it is the device's id.
func FuzzMQTTClientID(f *testing.F) {
	for _, s := range []string{"pump1", "svc:dash/1", `a" - "b`, " - mid:7 - ", "\x00", "é", `\"`, ""} {
		f.Add("127.0.0.1:7", uint64(7), s)
	}
	f.Fuzz(func(t *testing.T, addr string, id uint64, clientID string) {
		if strings.Contains(addr, " - ") {
			return // nats-server names the connection by host:port
		}
		name := fmt.Sprintf("%s - mid:%d - %q", addr, id, clientID)
		got, ok := mqttClientIDFrom(name, id)
		if !ok || got != clientID {
			t.Fatalf("%q: got %q, %v; want %q", name, got, ok, clientID)
		}
		if err := checkClientID(Grant{Identity: "pump1"}, got); (err == nil) != (clientID == "pump1") {
			t.Fatalf("device pump1 with client id %q: %v", clientID, err)
		}
		mqttClientIDFrom(addr+clientID, id) // any text: no panic
	})
}
