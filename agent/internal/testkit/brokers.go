package testkit

import (
	"testing"

	"github.com/tollgate-iot/tollgate/internal/testkit/brokers"
)

// The brokers and the telemetry sink live in internal/testkit/brokers,
// shared with the end-to-end suites; these names keep the agent's tests
// short.
type (
	// NATS is an embedded NATS server with its MQTT listener and a sink.
	NATS = brokers.NATS
	// Sink records telemetry envelopes by (device, seq).
	Sink = brokers.Sink
	// Mosquitto is a mosquitto broker run as a child process.
	Mosquitto = brokers.Mosquitto
)

// StartNATS starts the embedded broker; see brokers.StartNATS.
func StartNATS(t testing.TB, dir string, port int) *NATS {
	t.Helper()
	return brokers.StartNATS(t, dir, port)
}

// StartNATSNoSink starts the embedded broker without the recording
// subscriber.
func StartNATSNoSink(t testing.TB, dir string) *NATS {
	t.Helper()
	return brokers.StartNATSNoSink(t, dir)
}

// NewSink returns an empty sink.
func NewSink() *Sink { return brokers.NewSink() }

// Subscribe records the telemetry an MQTT broker carries.
func Subscribe(t testing.TB, broker string) *Sink {
	t.Helper()
	return brokers.Subscribe(t, broker)
}

// FreePort returns a free loopback TCP port.
func FreePort(t testing.TB) int { return brokers.FreePort(t) }

// StartMosquitto starts mosquitto, anonymous clients allowed, with the
// extra config lines; see brokers.StartMosquitto.
func StartMosquitto(t testing.TB, extraConf string) *Mosquitto {
	t.Helper()
	return brokers.StartMosquitto(t, extraConf)
}
