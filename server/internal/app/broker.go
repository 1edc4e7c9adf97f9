package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/broker"
	"github.com/tollgate-iot/tollgate/server/internal/keys"
	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/server/internal/metrics"
	"github.com/tollgate-iot/tollgate/shared/cli"
	"github.com/tollgate-iot/tollgate/shared/clock"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// mqttRuntime is the MQTT side of serve: the broker (embedded or the
// service client of an external one), the token push queue and the
// observed-telemetry counter, with the goroutines that drive them.
type mqttRuntime struct {
	svc    broker.Service
	obs    *broker.Observer
	pushes *broker.PushQueue
	lg     *ledger.Ledger

	stopPush, stopObs context.CancelFunc
	pushDone, obsDone sync.WaitGroup
}

// stop ends pushes, detaches the ledger, disconnects the broker, then
// flushes the last observed counts (the ledger is still open).
func (r *mqttRuntime) stop() {
	r.stopPush()
	r.pushDone.Wait()
	r.lg.SetEnforcer(nil)
	r.svc.Close()
	r.stopObs()
	r.obsDone.Wait()
}

// startMQTT starts the embedded broker (devices authenticate with their
// current license token, applications with an API key) or connects to an
// external one; then revocations, suspensions, blacklistings and new token
// versions reach devices through the ledger's Enforcer, and the telemetry
// the broker sees is counted per device and hour into the ledger.
func startMQTT(c Config, lg *ledger.Ledger, kc *keys.Cache, clk clock.Clock, log *slog.Logger, m *metrics.Registry) (*mqttRuntime, error) {
	blog := log.With("component", "broker")
	obs := broker.NewObserver(clk, func(ctx context.Context, counts []broker.ObservedCount) error {
		in := make([]ledger.ObservedCount, len(counts))
		for i, x := range counts {
			in[i] = ledger.ObservedCount(x)
		}
		_, skipped, err := lg.AddObservedCounts(ctx, in)
		if skipped > 0 {
			m.Add("tollgate_broker_observed_skipped_total", float64(skipped))
		}
		return err
	}, blog)
	var svc broker.Service
	var err error
	m.Histogram("tollgate_broker_connect_duration_seconds", "Embedded broker: time to decide a device or service CONNECT (token check included), by result (accepted, denied, error, client_id, bad_grant, kicked).",
		metrics.LatencyBuckets, "result")
	if c.external() {
		svc, err = dialExternal(c, obs, blog)
	} else {
		var b *broker.Broker
		if b, err = startEmbedded(c, lg, kc, clk, obs, blog, m); err == nil {
			svc = b
			m.GaugeFunc("tollgate_broker_retained_refused", "Retained messages the embedded broker refused to store since start.",
				func() float64 { return float64(b.RetainedRefused()) })
		}
	}
	if err != nil {
		return nil, err
	}
	pushes := broker.NewPushQueue(func(ctx context.Context, dev string) (string, []byte, error) {
		doc, err := lg.PushDocument(ctx, dev)
		if err != nil {
			return "", nil, err
		}
		return broker.DeviceTopic(doc.CustomerID, dev, "control"), []byte(doc.Text), nil
	}, svc.Publish, blog)
	r := &mqttRuntime{svc: svc, obs: obs, pushes: pushes, lg: lg}
	pctx, stopPush := context.WithCancel(context.Background())
	octx, stopObs := context.WithCancel(context.Background())
	r.stopPush, r.stopObs = stopPush, stopObs
	r.pushDone.Add(1)
	go func() { defer r.pushDone.Done(); pushes.Run(pctx) }()
	r.obsDone.Add(1)
	go func() { defer r.obsDone.Done(); obs.Run(octx, c.ObservedFlushInterval) }()

	m.Counter("tollgate_broker_enforced_total", "Devices disconnected, revocation lists and token pushes sent after ledger changes.", "action")
	m.Counter("tollgate_broker_observed_skipped_total", "Observed telemetry counts the ledger skipped (unknown device, or another customer's topic).")
	m.GaugeFunc("tollgate_broker_observed_messages", "Telemetry messages the broker observed since start.", func() float64 { return float64(obs.Total()) })
	m.GaugeFunc("tollgate_broker_observed_dropped", "Telemetry messages not counted because the pending counts were full.", func() float64 { return float64(obs.Dropped()) })
	m.GaugeFunc("tollgate_broker_token_pushes_dropped", "Token pushes dropped because the push queue was full.", func() float64 {
		_, _, d := pushes.Stats()
		return float64(d)
	})
	lg.SetEnforcer(&brokerEnforcer{b: svc, lists: lg.PushRevocationList, pushes: pushes, log: blog, m: m})
	return r, nil
}

func startEmbedded(c Config, lg *ledger.Ledger, kc *keys.Cache, clk clock.Clock, obs *broker.Observer, blog *slog.Logger, m *metrics.Registry) (*broker.Broker, error) {
	host, port, _ := net.SplitHostPort(c.MQTTAddr)
	p, _ := strconv.Atoi(port)
	if p != 0 {
		// nats-server retries a busy port until its ready timeout; a probe
		// says "address already in use" at once, as --http does.
		probe, err := net.Listen("tcp", c.MQTTAddr)
		if err != nil {
			return nil, cli.Errorf("listen", "--mqtt: %v", err)
		}
		probe.Close()
	}
	auth := &broker.TokenAuthorizer{Ledger: brokerLedger{lg}, Clock: clk, Trust: func() *token.Trust {
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
	cluster, err := c.clusterConfig()
	if err != nil {
		return nil, err
	}
	b, err := broker.Start(broker.Config{Host: host, Port: p, StoreDir: BrokerDir(c.DataDir), TLS: tlsConf, Auth: auth, Cluster: cluster,
		Logger: blog, Observer: obs, MaxPayload: c.MQTTMaxPayload,
		JetStreamMaxStore: c.JetStreamMaxStore, JetStreamMaxMemory: c.JetStreamMaxMemory, Clock: clk,
		OnConnect: func(result string, d time.Duration) {
			m.Observe("tollgate_broker_connect_duration_seconds", d.Seconds(), result)
		}})
	if err != nil {
		return nil, cli.Errorf("mqtt", "%v", err)
	}
	return b, nil
}

// dialExternal connects the service client to --broker tcp:// or ssl://.
func dialExternal(c Config, obs *broker.Observer, blog *slog.Logger) (*broker.External, error) {
	cfg := broker.ExternalConfig{URL: c.Broker, Username: c.BrokerUsername, Observer: obs, Logger: blog}
	if c.BrokerPasswordFile != "" {
		b, err := readBounded(c.BrokerPasswordFile, maxBrokerPasswordBytes)
		if err != nil {
			return nil, cli.Errorf("io", "--broker-password-file: %v", err)
		}
		cfg.Password = strings.TrimRight(string(b), "\r\n")
	}
	if strings.HasPrefix(c.Broker, "ssl://") {
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if c.BrokerCA != "" {
			pem, err := readBounded(c.BrokerCA, maxBrokerCABytes)
			if err != nil {
				return nil, cli.Errorf("tls", "--broker-ca: %v", err)
			}
			tc.RootCAs = x509.NewCertPool()
			if !tc.RootCAs.AppendCertsFromPEM(pem) {
				return nil, cli.Errorf("tls", "--broker-ca %s: no PEM certificate", c.BrokerCA)
			}
		}
		if c.BrokerCert != "" {
			cert, err := tls.LoadX509KeyPair(c.BrokerCert, c.BrokerKey)
			if err != nil {
				return nil, cli.Errorf("tls", "%v", err)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		cfg.TLS = tc
	}
	e, err := broker.DialExternal(cfg)
	if err != nil {
		return nil, cli.Errorf("mqtt", "%v", err)
	}
	blog.Warn("external broker: CONNECT checks, topic permissions and disconnects are not enforced by tollgate; agents enforce alone (docs/server.md)",
		"broker", c.Broker)
	return e, nil
}

// maxBrokerPasswordBytes bounds --broker-password-file.
const maxBrokerPasswordBytes = 4096

// maxBrokerCABytes bounds --broker-ca.
const maxBrokerCABytes = 1 << 20

// readBounded reads a small file, refusing one larger than max.
func readBounded(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > max {
		return nil, fmt.Errorf("%s is %d bytes, at most %d", path, st.Size(), max)
	}
	b := make([]byte, st.Size())
	_, err = io.ReadFull(f, b)
	return b, err
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

// brokerEnforcer carries committed ledger changes to the broker: each
// affected device's new revocation list, signed for it, to its control
// topic first (so that it is on its way before the connection closes),
// then the disconnects; new token versions are queued for a push (PushQueue), so
// the change that made them never waits for signing and publishing.
type brokerEnforcer struct {
	b      broker.Service
	lists  func(ctx context.Context, deviceID string) (string, error)
	pushes *broker.PushQueue
	log    *slog.Logger
	m      *metrics.Registry
}

func (e *brokerEnforcer) Enforce(en ledger.Enforcement) {
	if en.RevocationSeq != 0 {
		for _, d := range en.Notify {
			list, err := e.lists(context.Background(), d.DeviceID)
			if err != nil || list == "" {
				e.log.Warn("revocation list for push not signed; the agent gets it at its next sync", "device_id", d.DeviceID, "error", err)
				continue
			}
			topic := broker.DeviceTopic(d.CustomerID, d.DeviceID, "control")
			if err := e.b.Publish(topic, []byte(list)); err != nil {
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
	for _, d := range en.Tokens {
		if !e.pushes.Add(d.DeviceID) {
			e.log.Warn("token push queue full; the agent gets its tokens at its next sync", "device_id", d.DeviceID)
			continue
		}
		e.m.Add("tollgate_broker_enforced_total", 1, "token_push")
	}
}
