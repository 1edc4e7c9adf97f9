package cli

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/broker"
	"github.com/tollgate-iot/tollgate/server/internal/store"
)

// Config is the one configuration of tollgate-server serve: defaults, then
// TOLLGATE_* environment variables, then flags.
type Config struct {
	// DataDir holds keys/ and the badger ledger (ledger/).
	DataDir string
	// HTTPAddr is the admin API listen address (port 0: any free port).
	HTTPAddr string
	// Profile is the badger profile: server (default) or small.
	Profile store.Profile
	// LogLevel is debug, info, warn or error.
	LogLevel string
	// TLSCert and TLSKey, both or neither, serve the API over HTTPS.
	TLSCert, TLSKey string
	// MQTTAddr is the MQTT listen address of the embedded broker; empty
	// serves no MQTT (port 0: any free port).
	MQTTAddr string
	// MQTTTLSCert and MQTTTLSKey, both or neither, make the MQTT listener
	// speak TLS (agents connect with ssl://).
	MQTTTLSCert, MQTTTLSKey string
	// Broker is "embedded", or tcp://HOST:PORT or ssl://HOST:PORT of an
	// external broker (Mosquitto) the server joins as a service client.
	Broker string
	// BrokerUsername and BrokerPasswordFile authenticate the server to an
	// external broker; BrokerCA (trusted roots) and BrokerCert/BrokerKey
	// (a client pair) configure its ssl://.
	BrokerUsername, BrokerPasswordFile string
	BrokerCA, BrokerCert, BrokerKey    string
	// ObservedFlushInterval is how often the telemetry counts the broker
	// observed are written to the ledger.
	ObservedFlushInterval time.Duration
	// MQTTMaxPayload caps one message on the embedded broker, a device's
	// or the server's own push, in bytes.
	MQTTMaxPayload int
	// JetStreamMaxStore and JetStreamMaxMemory cap the embedded broker's
	// JetStream disk (in DATA/broker/) and memory, in bytes.
	JetStreamMaxStore, JetStreamMaxMemory int64

	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	ShutdownTimeout   time.Duration
	// SchedulerInterval is how often renewals and expiries are applied.
	SchedulerInterval time.Duration
	// GCInterval is how often badger's value log is garbage collected.
	GCInterval time.Duration
	// KeyCacheTTL bounds how long a rotated key takes to be used.
	KeyCacheTTL time.Duration
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		HTTPAddr:          "127.0.0.1:8080",
		Profile:           store.ProfileServer,
		LogLevel:          "info",
		Broker:            BrokerEmbedded,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ShutdownTimeout:   15 * time.Second,
		SchedulerInterval: time.Minute,
		GCInterval:        10 * time.Minute,
		KeyCacheTTL:       time.Minute,

		ObservedFlushInterval: broker.DefaultObservedFlushInterval,
		MQTTMaxPayload:        broker.DefaultMaxPayload,
		JetStreamMaxStore:     broker.DefaultJetStreamMaxStore,
		JetStreamMaxMemory:    broker.DefaultJetStreamMaxMemory,
	}
}

// Validate checks the configuration as a whole.
func (c *Config) Validate() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("--data is required"))
	}
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		errs = append(errs, fmt.Errorf("--http %q: %v", c.HTTPAddr, err))
	}
	if err := c.checkBroker(); err != nil {
		errs = append(errs, err)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("--tls-cert and --tls-key go together"))
	}
	if c.Profile != store.ProfileServer && c.Profile != store.ProfileSmall {
		errs = append(errs, fmt.Errorf("--profile %q: want server or small", c.Profile))
	}
	if _, err := c.level(); err != nil {
		errs = append(errs, err)
	}
	for name, d := range map[string]time.Duration{"read-header timeout": c.ReadHeaderTimeout, "read timeout": c.ReadTimeout,
		"write timeout": c.WriteTimeout, "idle timeout": c.IdleTimeout, "shutdown timeout": c.ShutdownTimeout,
		"scheduler interval": c.SchedulerInterval, "gc interval": c.GCInterval, "key cache ttl": c.KeyCacheTTL} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive", name))
		}
	}
	return errors.Join(errs...)
}

func (c *Config) level() (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return 0, fmt.Errorf("--log-level %q: want debug, info, warn or error", c.LogLevel)
	}
	return l, nil
}
