package cli

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/tollgate-iot/tollgate/server/internal/broker"
	"github.com/tollgate-iot/tollgate/server/internal/keys"
	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/server/internal/metrics"
	"github.com/tollgate-iot/tollgate/shared/cli"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// BrokerEmbedded is the default --broker: the NATS server in this process.
const BrokerEmbedded = "embedded"

// brokerDir is where the embedded broker keeps JetStream data (MQTT
// sessions, retained messages) inside the data directory.
func brokerDir(dataDir string) string { return filepath.Join(dataDir, "broker") }

// checkBroker validates --mqtt and --broker.
func (c *Config) checkBroker() error {
	if strings.HasPrefix(c.Broker, "tcp://") || strings.HasPrefix(c.Broker, "ssl://") {
		return fmt.Errorf("--broker %s: an external broker is not built yet; use --broker embedded", c.Broker)
	}
	if c.Broker != BrokerEmbedded {
		return fmt.Errorf("--broker %q: want embedded", c.Broker)
	}
	if (c.MQTTTLSCert == "") != (c.MQTTTLSKey == "") {
		return fmt.Errorf("--mqtt-tls-cert and --mqtt-tls-key go together")
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

// startBroker starts the embedded MQTT broker: devices authenticate with
// their current license token, applications with an API key; revocations,
// suspensions and blacklistings reach it through the ledger's Enforcer.
func startBroker(c Config, lg *ledger.Ledger, kc *keys.Cache, env *IO, log *slog.Logger, m *metrics.Registry) (*broker.Broker, error) {
	host, port, _ := net.SplitHostPort(c.MQTTAddr)
	p, _ := strconv.Atoi(port)
	blog := log.With("component", "broker")
	auth := &broker.TokenAuthorizer{Ledger: brokerLedger{lg}, Clock: env.Clock, Trust: func() *token.Trust {
		t, err := kc.Trust()
		if err != nil {
			blog.Error("cannot load the trust of the signing keys", "error", err)
		}
		return t
	}}
	var tlsConf *tls.Config
	if c.MQTTTLSCert != "" {
		cert, err := tls.LoadX509KeyPair(c.MQTTTLSCert, c.MQTTTLSKey)
		if err != nil {
			return nil, cli.Errorf("tls", "%v", err)
		}
		tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	b, err := broker.Start(broker.Config{Host: host, Port: p, StoreDir: brokerDir(c.DataDir), TLS: tlsConf, Auth: auth, Logger: blog})
	if err != nil {
		return nil, cli.Errorf("mqtt", "%v", err)
	}
	m.Counter("tollgate_broker_enforced_total", "Devices disconnected and revocation lists pushed after ledger changes.", "action")
	lg.SetEnforcer(&brokerEnforcer{b: b, log: blog, m: m})
	return b, nil
}

// brokerLedger answers the broker's CONNECT questions from the ledger.
type brokerLedger struct{ lg *ledger.Ledger }

func (a brokerLedger) DeviceStanding(ctx context.Context, deviceID, licenseID string) (broker.Standing, error) {
	st, err := a.lg.DeviceStanding(ctx, deviceID, licenseID)
	if err != nil {
		return broker.Standing{}, err
	}
	return broker.Standing{CustomerID: st.CustomerID, Children: st.Children, Until: st.Until, MinVersion: st.MinVersion}, nil
}

func (a brokerLedger) ServiceCustomers(ctx context.Context, name, apiKey string) ([]string, error) {
	return a.lg.ServiceCustomers(ctx, name, apiKey)
}

// brokerEnforcer carries committed ledger changes to the broker: the new
// signed revocation list to each affected device's control topic first
// (so that it is on its way before the connection closes), then the
// disconnects.
type brokerEnforcer struct {
	b   *broker.Broker
	log *slog.Logger
	m   *metrics.Registry
}

func (e *brokerEnforcer) Enforce(en ledger.Enforcement) {
	if en.RevocationList != "" {
		for _, d := range en.Notify {
			topic := broker.DeviceTopic(d.CustomerID, d.DeviceID, "control")
			if err := e.b.Publish(topic, []byte(en.RevocationList)); err != nil {
				e.log.Warn("revocation list push failed", "device_id", d.DeviceID, "error", err)
				continue
			}
			e.m.Add("tollgate_broker_enforced_total", 1, "push")
		}
	}
	for _, d := range en.Disconnect {
		if n := e.b.Kick(d.DeviceID); n > 0 {
			e.log.Info("mqtt device disconnected", "device_id", d.DeviceID, "connections", n)
			e.m.Add("tollgate_broker_enforced_total", float64(n), "disconnect")
		}
	}
}
