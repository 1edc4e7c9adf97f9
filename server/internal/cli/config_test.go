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
