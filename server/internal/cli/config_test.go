package cli

import (
	"strings"
	"testing"

	"github.com/tollgate-iot/tollgate/server/internal/app"
	"github.com/tollgate-iot/tollgate/server/internal/broker"
)

func TestServeParsesBrokerLimits(t *testing.T) {
	t.Setenv("TOLLGATE_JETSTREAM_MAX_MEMORY", "33554432")
	c, err := parseServe([]string{"--data", "x", "--mqtt-max-payload", "131072", "--jetstream-max-store", "268435456"})
	if err != nil {
		t.Fatal(err)
	}
	if c.MQTTMaxPayload != 128<<10 || c.JetStreamMaxStore != 256<<20 || c.JetStreamMaxMemory != 32<<20 {
		t.Fatalf("limits %d %d %d", c.MQTTMaxPayload, c.JetStreamMaxStore, c.JetStreamMaxMemory)
	}
	d := app.DefaultConfig()
	if d.MQTTMaxPayload != broker.DefaultMaxPayload || d.JetStreamMaxStore != broker.DefaultJetStreamMaxStore ||
		d.JetStreamMaxMemory != broker.DefaultJetStreamMaxMemory {
		t.Fatalf("defaults %d %d %d", d.MQTTMaxPayload, d.JetStreamMaxStore, d.JetStreamMaxMemory)
	}
}

func TestServeParsesWebhookAllowPrivate(t *testing.T) {
	c, err := parseServe([]string{"--data", "x"})
	if err != nil || c.WebhookAllowPrivate {
		t.Fatalf("default: %v, %v", c.WebhookAllowPrivate, err)
	}
	if c, err = parseServe([]string{"--data", "x", "--webhook-allow-private"}); err != nil || !c.WebhookAllowPrivate {
		t.Fatalf("flag: %v, %v", c.WebhookAllowPrivate, err)
	}
	t.Setenv("TOLLGATE_WEBHOOK_ALLOW_PRIVATE", "true")
	if c, err = parseServe([]string{"--data", "x"}); err != nil || !c.WebhookAllowPrivate {
		t.Fatalf("env: %v, %v", c.WebhookAllowPrivate, err)
	}
}

func TestServeParsesWebhookRetryBase(t *testing.T) {
	c, err := parseServe([]string{"--data", "x", "--webhook-retry-base", "2s"})
	if err != nil || c.WebhookRetryBase.String() != "2s" {
		t.Fatalf("flag: %v, %v", c.WebhookRetryBase, err)
	}
	for _, bad := range []string{"0s", "500ms", "7h"} {
		if _, err := parseServe([]string{"--data", "x", "--webhook-retry-base", bad}); err == nil {
			t.Errorf("--webhook-retry-base %s accepted", bad)
		}
	}
}

// TestServeClusterFlags: the cluster flags are read from flags and the
// environment, and every combination that cannot work is refused with
// what to give instead.
func TestServeClusterFlags(t *testing.T) {
	base := []string{"--data", "x", "--mqtt", "127.0.0.1:0"}
	c, err := parseServe(append(base, "--cluster", "127.0.0.1:6222", "--routes", "nats://10.0.0.2:6222, nats://10.0.0.3:6222",
		"--server-name", "replica-a", "--cluster-secret-file", "secret"))
	if err != nil {
		t.Fatal(err)
	}
	if c.ClusterAddr != "127.0.0.1:6222" || c.ServerName != "replica-a" || c.ClusterSecretFile != "secret" {
		t.Fatalf("parsed %+v", c)
	}
	t.Setenv("TOLLGATE_ROUTES", "nats://10.0.0.9:6222")
	if c, err = parseServe(append(base, "--cluster", "127.0.0.1:6222", "--cluster-secret-file", "s")); err != nil || c.Routes != "nats://10.0.0.9:6222" {
		t.Fatalf("env routes: %q, %v", c.Routes, err)
	}
	t.Setenv("TOLLGATE_ROUTES", "")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"error/no-secret", append(base, "--cluster", "127.0.0.1:6222"), "--cluster-secret-file"},
		{"error/no-mqtt", []string{"--data", "x", "--cluster", "127.0.0.1:6222", "--cluster-secret-file", "s"}, "--mqtt"},
		{"error/external-broker", []string{"--data", "x", "--broker", "tcp://127.0.0.1:1884", "--cluster", "127.0.0.1:6222", "--cluster-secret-file", "s"}, "external broker is the cluster"},
		{"error/routes-without-cluster", append(base, "--routes", "nats://10.0.0.2:6222"), "need --cluster"},
		{"error/port-zero", append(base, "--cluster", "127.0.0.1:0", "--cluster-secret-file", "s"), "port must be 1..65535"},
		{"error/no-host", append(base, "--cluster", ":6222", "--cluster-secret-file", "s"), "address to listen on"},
		{"error/route-scheme", append(base, "--cluster", "127.0.0.1:6222", "--cluster-secret-file", "s", "--routes", "http://10.0.0.2:6222"), "nats://HOST:PORT"},
		{"error/route-credentials", append(base, "--cluster", "127.0.0.1:6222", "--cluster-secret-file", "s", "--routes", "nats://u:p@10.0.0.2:6222"), "credentials"},
		{"error/route-no-port", append(base, "--cluster", "127.0.0.1:6222", "--cluster-secret-file", "s", "--routes", "nats://10.0.0.2"), "nats://HOST:PORT"},
		{"error/bad-server-name", append(base, "--cluster", "127.0.0.1:6222", "--cluster-secret-file", "s", "--server-name", "a b"), "--server-name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseServe(tc.args)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one naming %q", err, tc.want)
			}
		})
	}
}

func TestServeParsesSchedulerLease(t *testing.T) {
	c, err := parseServe([]string{"--data", "x", "--scheduler-lease", "5s"})
	if err != nil || c.SchedulerLease.String() != "5s" {
		t.Fatalf("flag: %v, %v", c.SchedulerLease, err)
	}
	for _, bad := range []string{"1s", "11m", "0s"} {
		if _, err := parseServe([]string{"--data", "x", "--scheduler-lease", bad}); err == nil || !strings.Contains(err.Error(), "--scheduler-lease") {
			t.Errorf("--scheduler-lease %s: %v", bad, err)
		}
	}
}
