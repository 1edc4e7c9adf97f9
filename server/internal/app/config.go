// Package app is tollgate-server serve's composition root: Config is the
// serve configuration, New opens keys, store, ledger, metrics, the API
// listener, the MQTT broker (embedded or external) and its hooks into the
// ledger in dependency order, and Run serves until its context ends, then
// shuts everything down in reverse order.
package app

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/broker"
	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/server/internal/store"
)

// Config is the one configuration of tollgate-server serve; the command
// line fills it from DefaultConfig, then TOLLGATE_* environment variables,
// then flags.
type Config struct {
	// DataDir holds keys/ and the badger ledger (ledger/).
	DataDir string
	// Store is where the ledger lives: badger (default: DataDir/ledger/)
	// or a postgres:// URL.
	Store string
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
	// SchedulerLease is how long the scheduler's lease lasts unrenewed:
	// the longest another replica waits to take over from one that died
	// (renewed every third of it).
	SchedulerLease time.Duration
	// GCInterval is how often badger's value log is garbage collected.
	GCInterval time.Duration
	// KeyCacheTTL bounds how long a rotated key takes to be used.
	KeyCacheTTL time.Duration
	// WebhookAllowPrivate lets webhook URLs reach loopback, link-local and
	// private addresses (docs/webhooks.md#which-urls-the-server-calls-ssrf); off, they are refused when
	// registered and when dialled.
	WebhookAllowPrivate bool
	// WebhookRetryBase is the wait after a webhook delivery's first failed
	// attempt; it doubles with each further failure.
	WebhookRetryBase time.Duration

	// SMTP is the mail server notices are sent through,
	// smtp://USER@HOST:PORT (STARTTLS) or smtps://… (implicit TLS); empty:
	// notices are kept, marked undelivered. MailFrom is the sender address.
	SMTP, MailFrom string
	// SMTPPasswordFile holds the SMTP password (instead of putting it in
	// the URL, where ps shows it); SMTPCA is a PEM bundle of roots to trust
	// for the SMTP server (default: the system's).
	SMTPPasswordFile, SMTPCA string
	// MailInterval is how often due notice e-mail is sent.
	MailInterval time.Duration
	// ClusterAddr is the route listener of the embedded broker's cluster
	// (empty: no cluster); Routes the other members, nats://HOST:PORT,
	// comma-separated; ServerName this member's unique name (default: host
	// name and route port); ClusterSecretFile the routes' shared secret
	// (cluster.go).
	ClusterAddr, Routes, ServerName, ClusterSecretFile string
	// PublicURL is the console's address as people reach it (behind a
	// proxy, the proxy's), for the links the server e-mails; default the
	// address serve listens on.
	PublicURL string
}

// Bounds of --scheduler-lease: renewed every third of it, a lease much
// shorter than a few seconds would lapse under a slow database; much
// longer leaves the scheduler idle that long after its holder died.
const (
	MinSchedulerLease = 3 * time.Second
	MaxSchedulerLease = 10 * time.Minute
)

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		HTTPAddr:          "127.0.0.1:8080",
		Profile:           store.ProfileServer,
		Store:             "badger",
		LogLevel:          "info",
		Broker:            BrokerEmbedded,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ShutdownTimeout:   15 * time.Second,
		SchedulerInterval: time.Minute,
		SchedulerLease:    ledger.SchedulerLeaseTTL,
		GCInterval:        10 * time.Minute,
		KeyCacheTTL:       time.Minute,
		WebhookRetryBase:  ledger.DeliveryFirstBackoff,
		MailInterval:      30 * time.Second,

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
	if err := c.checkCluster(); err != nil {
		errs = append(errs, err)
	}
	if err := c.checkMail(); err != nil {
		errs = append(errs, err)
	}
	if err := c.checkPublicURL(); err != nil {
		errs = append(errs, err)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("--tls-cert and --tls-key go together"))
	}
	if c.Store != "badger" && !store.IsPostgresURL(c.Store) {
		errs = append(errs, fmt.Errorf("--store %q: want badger or a postgres:// URL", store.RedactURL(c.Store)))
	}
	if c.Profile != store.ProfileServer && c.Profile != store.ProfileSmall {
		errs = append(errs, fmt.Errorf("--profile %q: want server or small", c.Profile))
	}
	if _, err := c.Level(); err != nil {
		errs = append(errs, err)
	}
	for name, d := range map[string]time.Duration{"read-header timeout": c.ReadHeaderTimeout, "read timeout": c.ReadTimeout,
		"write timeout": c.WriteTimeout, "idle timeout": c.IdleTimeout, "shutdown timeout": c.ShutdownTimeout,
		"scheduler interval": c.SchedulerInterval, "gc interval": c.GCInterval, "key cache ttl": c.KeyCacheTTL} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive", name))
		}
	}
	if c.SchedulerLease < MinSchedulerLease || c.SchedulerLease > MaxSchedulerLease {
		errs = append(errs, fmt.Errorf("--scheduler-lease %s: want %s..%s", c.SchedulerLease, MinSchedulerLease, MaxSchedulerLease))
	}
	if c.WebhookRetryBase < time.Second || c.WebhookRetryBase > ledger.DeliveryMaxBackoff {
		errs = append(errs, fmt.Errorf("--webhook-retry-base %s: want 1s..%s", c.WebhookRetryBase, ledger.DeliveryMaxBackoff))
	}
	return errors.Join(errs...)
}

// Level is the slog level LogLevel names.
func (c *Config) Level() (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return 0, fmt.Errorf("--log-level %q: want debug, info, warn or error", c.LogLevel)
	}
	return l, nil
}

// BrokerEmbedded is the default --broker: the NATS server in this process.
const BrokerEmbedded = "embedded"

// external reports whether --broker names an external broker.
func (c *Config) external() bool { return c.Broker != BrokerEmbedded }

// mqttOn reports whether serve runs MQTT at all: the embedded broker with
// --mqtt, or an external one.
func (c *Config) mqttOn() bool { return c.MQTTAddr != "" || c.external() }

// checkBroker validates --mqtt, --broker and their TLS and credentials.
func (c *Config) checkBroker() error {
	if (c.MQTTTLSCert == "") != (c.MQTTTLSKey == "") {
		return fmt.Errorf("--mqtt-tls-cert and --mqtt-tls-key go together")
	}
	if (c.BrokerCert == "") != (c.BrokerKey == "") {
		return fmt.Errorf("--broker-cert and --broker-key go together")
	}
	if c.ObservedFlushInterval <= 0 {
		return fmt.Errorf("--observed-flush-interval must be positive")
	}
	if c.external() {
		return c.checkExternal()
	}
	if c.BrokerUsername != "" || c.BrokerPasswordFile != "" || c.BrokerCA != "" || c.BrokerCert != "" {
		return fmt.Errorf("--broker-username, --broker-password-file, --broker-ca and --broker-cert are for an external --broker")
	}
	if err := c.checkBrokerLimits(); err != nil {
		return err
	}
	if c.MQTTAddr == "" {
		if c.MQTTTLSCert != "" {
			return fmt.Errorf("--mqtt-tls-cert needs --mqtt")
		}
		return nil
	}
	_, port, err := net.SplitHostPort(c.MQTTAddr)
	if err != nil {
		return fmt.Errorf("--mqtt %q: %v", c.MQTTAddr, err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("--mqtt %q: port must be 0..65535", c.MQTTAddr)
	}
	return nil
}

// checkBrokerLimits validates --mqtt-max-payload and the JetStream limits
// of the embedded broker.
func (c *Config) checkBrokerLimits() error {
	if c.MQTTMaxPayload < broker.MinMaxPayload || c.MQTTMaxPayload > broker.MaxMaxPayload {
		return fmt.Errorf("--mqtt-max-payload %d: want %d..%d bytes", c.MQTTMaxPayload, broker.MinMaxPayload, broker.MaxMaxPayload)
	}
	if c.JetStreamMaxStore < broker.MinJetStreamMaxStore {
		return fmt.Errorf("--jetstream-max-store %d: want at least %d bytes", c.JetStreamMaxStore, broker.MinJetStreamMaxStore)
	}
	if c.JetStreamMaxMemory < broker.MinJetStreamMaxMemory {
		return fmt.Errorf("--jetstream-max-memory %d: want at least %d bytes", c.JetStreamMaxMemory, broker.MinJetStreamMaxMemory)
	}
	return nil
}

func (c *Config) checkExternal() error {
	if !strings.HasPrefix(c.Broker, "tcp://") && !strings.HasPrefix(c.Broker, "ssl://") {
		return fmt.Errorf("--broker %q: want embedded, tcp://HOST:PORT or ssl://HOST:PORT", c.Broker)
	}
	if err := broker.CheckExternalURL(c.Broker); err != nil {
		return fmt.Errorf("--broker: %v", err)
	}
	if c.MQTTAddr != "" || c.MQTTTLSCert != "" {
		return fmt.Errorf("--mqtt and --mqtt-tls-* configure the embedded broker's listener; with --broker %s devices connect to that broker", c.Broker)
	}
	if (c.BrokerCA != "" || c.BrokerCert != "") && !strings.HasPrefix(c.Broker, "ssl://") {
		return fmt.Errorf("--broker-ca and --broker-cert need an ssl:// --broker")
	}
	if c.BrokerPasswordFile != "" && c.BrokerUsername == "" {
		return fmt.Errorf("--broker-password-file needs --broker-username")
	}
	return nil
}
