package broker

import (
	"errors"
	"testing"
)

// TestClientIDTakeoverIsRefused performs the takeover: device pump1 is
// connected with its own client id; licensed device pump2 connects again
// and again with pump1 as its client id. Every attempt is refused at
// CONNECT, and pump1 is never disconnected: its connection-lost signal has
// not fired after the attempts, and a server message still reaches it over
// the same connection.
func TestClientIDTakeoverIsRefused(t *testing.T) {
	b := startBroker(t, fakeAuth{})
	victim := mustConnect(t, b, "dev:pump1")
	control := subscribe(t, victim, "tollgate/v1/c1/pump1/control")
	for i := range 7 {
		if _, err := connectAs(t, b, "pump1", "dev:pump2", "secret"); err == nil {
			t.Fatalf("attempt %d: pump2 connected with pump1's client id", i+1)
		}
	}
	select {
	case <-victim.lost:
		t.Fatal("pump1 was disconnected by another device's CONNECT")
	default:
	}
	if err := b.Publish("tollgate/v1/c1/pump1/control", []byte("still here")); err != nil {
		t.Fatal(err)
	}
	if m := next(t, control); m != "tollgate/v1/c1/pump1/control still here" {
		t.Fatalf("pump1 got %q", m)
	}
	select {
	case <-victim.lost:
		t.Fatal("pump1 lost its connection")
	default:
	}
	// The attacker's own client id still works: the refusal is the id,
	// not the device.
	mustConnect(t, b, "dev:pump2")
}

// TestServiceClientIDIsBoundToItsName: an application connects as its
// name or an instance of it, never as a device or another application.
func TestServiceClientIDIsBoundToItsName(t *testing.T) {
	b := startBroker(t, fakeAuth{})
	mustConnect(t, b, "dev:pump1")
	tests := []struct {
		name, clientID string
		ok             bool
	}{
		{"ok/name", "svc:dash", true},
		{"ok/instance", "svc:dash/replica-2", true},
		{"error/device-id", "pump1", false},
		{"error/other-service", "svc:dashboard", false},
		{"error/other-service-instance", "svc:dashboard/1", false},
		{"error/empty-instance", "svc:dash/", false},
		{"error/nested-instance", "svc:dash/a/b", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := connectAs(t, b, tt.clientID, "svc:dash", "secret")
			if (err == nil) != tt.ok {
				t.Fatalf("connect as %q: %v", tt.clientID, err)
			}
		})
	}
}

func TestCheckClientID(t *testing.T) {
	device := Grant{Identity: "pump1"}
	service := Grant{Identity: "svc:dash", Instances: true}
	tests := []struct {
		name     string
		g        Grant
		clientID string
		ok       bool
	}{
		{"ok/device", device, "pump1", true},
		{"ok/service", service, "svc:dash", true},
		{"ok/service-instance", service, "svc:dash/eu-1", true},
		{"error/device-other", device, "pump2", false},
		{"error/device-prefix", device, "pump10", false},
		{"error/device-instance", device, "pump1/2", false},
		{"error/device-empty", device, "", false},
		{"error/service-prefix", service, "svc:dashboard", false},
		{"error/service-instance-bad", service, "svc:dash/a b", false},
		{"error/service-instance-long", service, "svc:dash/" + string(make([]byte, 65)), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkClientID(tt.g, tt.clientID)
			if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrClientID)) {
				t.Fatalf("checkClientID(%q, %q) = %v", tt.g.Identity, tt.clientID, err)
			}
		})
	}
}

func TestMQTTClientID(t *testing.T) {
	tests := []struct {
		name, s string
		id      uint64
		want    string
		ok      bool
	}{
		{"ok/plain", `127.0.0.1:50312 - mid:7 - "pump1"`, 7, "pump1", true},
		{"ok/port-equals-id", `127.0.0.1:7 - mid:7 - "svc:dash/1"`, 7, "svc:dash/1", true},
		{"ok/quoted", `[::1]:4 - mid:12 - "a\" - \"b"`, 12, `a" - "b`, true},
		{"error/other-id", `127.0.0.1:1 - mid:8 - "pump1"`, 7, "", false},
		{"error/no-client-id", `127.0.0.1:1 - mid:7`, 7, "", false},
		{"error/not-quoted", `127.0.0.1:1 - mid:7 - pump1`, 7, "", false},
		{"error/trailing", `127.0.0.1:1 - mid:7 - "pump1" x`, 7, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := mqttClientIDFrom(tt.s, tt.id)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("mqttClientIDFrom(%q) = %q, %v", tt.s, got, ok)
			}
		})
	}
}
