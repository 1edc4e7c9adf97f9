package broker

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// Service is what the server needs from an MQTT broker, embedded or
// external: send a message to a device's topic, and cut a device off.
type Service interface {
	// Publish sends payload on topic and returns once the broker has it.
	Publish(topic string, payload []byte) error
	// Kick disconnects every connection of identity and returns how many
	// it closed (always 0 on an external broker: it cannot).
	Kick(identity string) int
	// MQTTAddr names the broker: the embedded listener's host:port, or the
	// external broker's URL.
	MQTTAddr() string
	// Close disconnects.
	Close()
}

// ErrExternalDown reports a publish while the connection to the external
// broker is down (paho is reconnecting).
var ErrExternalDown = errors.New("external broker not connected")

// ErrExternalURL reports a --broker URL that is not tcp:// or ssl://
// HOST:PORT.
var ErrExternalURL = errors.New("bad external broker url")

// ExternalConfig configures the service client of an external broker.
type ExternalConfig struct {
	// URL is tcp://HOST:PORT or ssl://HOST:PORT.
	URL string
	// TLS is used with ssl:// (nil: the system roots).
	TLS *tls.Config
	// Username and Password, if set, authenticate the server to the broker
	// (Mosquitto's password_file and acl_file, docs/server.md).
	Username, Password string
	// Observer, if set, counts the telemetry the client receives.
	Observer *Observer
	Logger   *slog.Logger
	// ConnectTimeout bounds the first connect; default 10 s.
	ConnectTimeout time.Duration
}

// CheckExternalURL checks a --broker URL: tcp:// or ssl://, a host and a
// port, nothing else.
func CheckExternalURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrExternalURL, err)
	}
	if u.Scheme != "tcp" && u.Scheme != "ssl" {
		return fmt.Errorf("%w: %q: want tcp://HOST:PORT or ssl://HOST:PORT", ErrExternalURL, raw)
	}
	if u.Hostname() == "" || u.Port() == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%w: %q: want %s://HOST:PORT and nothing else (credentials go in --broker-username and --broker-password-file)", ErrExternalURL, raw, u.Scheme)
	}
	return nil
}

// External is the server's service client on an external broker
// (Mosquitto): it publishes revocation lists and token pushes to devices'
// control topics and subscribes to every device's telemetry to count what
// it observes. It cannot check CONNECTs, restrict topics or disconnect
// anyone: those checks are the broker's own configuration's, or the
// agent's alone (docs/server.md).
type External struct {
	c   mqtt.Client
	url string
	log *slog.Logger
}

// externalTelemetryFilter is every device's telemetry topic.
const externalTelemetryFilter = "tollgate/v1/+/+/telemetry"

// DialExternal connects the service client and waits for the first
// connection; it reconnects by itself afterwards and subscribes again on
// every connection (paho #173).
func DialExternal(cfg ExternalConfig) (*External, error) {
	if err := CheckExternalURL(cfg.URL); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	id := make([]byte, 6)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	e := &External{url: cfg.URL, log: cfg.Logger}
	opts := mqtt.NewClientOptions().AddBroker(cfg.URL).SetClientID("tollgate-server-" + hex.EncodeToString(id)).
		SetCleanSession(true).SetAutoReconnect(true).SetConnectRetry(false).SetOrderMatters(false).
		SetConnectTimeout(cfg.ConnectTimeout).SetWriteTimeout(externalWriteTimeout).SetKeepAlive(30 * time.Second).
		SetMaxReconnectInterval(30 * time.Second)
	if strings.HasPrefix(cfg.URL, "ssl://") {
		tc := cfg.TLS
		if tc == nil {
			tc = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		opts.SetTLSConfig(tc)
	}
	if cfg.Username != "" {
		opts.SetUsername(cfg.Username).SetPassword(cfg.Password)
	}
	opts.SetOnConnectHandler(func(c mqtt.Client) {
		if cfg.Observer == nil {
			return
		}
		// Telemetry is only counted: QoS 0 is enough, and a message the
		// broker drops under load is under-counted, never over-counted.
		tok := c.Subscribe(externalTelemetryFilter, 0, func(_ mqtt.Client, m mqtt.Message) {
			cfg.Observer.ObserveTopic(m.Topic(), m.Payload())
		})
		go func() {
			if !tok.WaitTimeout(cfg.ConnectTimeout) || tok.Error() != nil {
				e.log.Error("external broker: telemetry subscription failed; observed counts stop until the next reconnect",
					"broker", cfg.URL, "error", tok.Error())
			}
		}()
	})
	opts.SetConnectionLostHandler(func(_ mqtt.Client, err error) {
		e.log.Warn("external broker connection lost; reconnecting", "broker", cfg.URL, "error", err)
	})
	e.c = mqtt.NewClient(opts)
	tok := e.c.Connect()
	if !tok.WaitTimeout(cfg.ConnectTimeout) {
		e.c.Disconnect(0)
		return nil, fmt.Errorf("external broker %s: connect timed out after %s", cfg.URL, cfg.ConnectTimeout)
	}
	if err := tok.Error(); err != nil {
		return nil, fmt.Errorf("external broker %s: %w", cfg.URL, err)
	}
	return e, nil
}

// Publish sends payload at QoS 1 and waits for the broker's PUBACK (at
// most externalPublishTimeout; paho's Wait can hang, #613).
func (e *External) Publish(topic string, payload []byte) error {
	if _, err := topicToSubject(topic, false); err != nil {
		return err
	}
	if !e.c.IsConnectionOpen() {
		// Do not hold up the ledger change that asked for this push while
		// paho reconnects: the agent gets the same at its next sync.
		return fmt.Errorf("%w: %s", ErrExternalDown, e.url)
	}
	tok := e.c.Publish(topic, 1, false, payload)
	if !tok.WaitTimeout(externalPublishTimeout) {
		return fmt.Errorf("external broker %s: publish to %s not acknowledged within %s", e.url, topic, externalPublishTimeout)
	}
	return tok.Error()
}

// Kick cannot disconnect anyone on an external broker: it returns 0.
func (e *External) Kick(string) int { return 0 }

// MQTTAddr returns the broker's URL.
func (e *External) MQTTAddr() string { return e.url }

// Close disconnects, giving in-flight messages a moment.
func (e *External) Close() { e.c.Disconnect(250) }

var _ Service = (*External)(nil)
