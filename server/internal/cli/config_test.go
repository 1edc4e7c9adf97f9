package cli

import (
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
