// Package broker embeds the NATS server as Tollgate's MQTT broker (docs/design.md#components).
//
// The broker knows nothing about licenses: every CONNECT is handed to an
// Authorizer, which answers with a Grant — the identity (which is also the
// MQTT client id the client must use), the MQTT topic filters the client
// may publish and subscribe to, and the moment its connection must end.
// The broker turns the grant into NATS permissions and a connection
// deadline (the NATS server then ends the connection by itself), can kick
// an identity at once, counts the telemetry it sees per device, and
// publishes server messages to devices. It bounds what clients make it
// store: no retained messages, no QoS 2, a payload cap and JetStream
// limits (storage.go).
//
// Only the MQTT listener is exposed. The NATS protocol port is not opened;
// the broker's own in-process connection authenticates with a random secret
// made at start.
package broker

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/nats-io/nats.go"
	"github.com/tollgate-iot/tollgate/shared/clock"
)

// ErrNotReady reports a broker that did not become ready in time.
var ErrNotReady = errors.New("broker did not become ready")

// ErrDenied is what an Authorizer wraps when it refuses a client; the broker
// logs the reason and answers CONNACK "not authorized".
var ErrDenied = errors.New("connection denied")

// Grant is what an authorized client may do.
type Grant struct {
	// Identity names the client for Kick and logs: a device id, or svc:NAME.
	// It is also the MQTT client id the client must connect with
	// (clientid.go).
	Identity string
	// Instances also allows the client ids Identity/INSTANCE: an
	// application may run several copies, a device runs one.
	Instances bool
	// Publish and Subscribe are MQTT topic filters (+ and # allowed).
	Publish   []string
	Subscribe []string
	// Deadline ends the connection by itself (token end); zero means none.
	Deadline time.Time
}

// Authorizer decides whether an MQTT client may connect. It is called on
// the broker's connection goroutine and must not block for long.
type Authorizer interface {
	Authorize(ctx context.Context, username, password string, tlsState *tls.ConnectionState) (Grant, error)
}

// AuthorizerFunc adapts a function to Authorizer.
type AuthorizerFunc func(ctx context.Context, username, password string, tlsState *tls.ConnectionState) (Grant, error)

// Authorize calls f.
func (f AuthorizerFunc) Authorize(ctx context.Context, username, password string, tlsState *tls.ConnectionState) (Grant, error) {
	return f(ctx, username, password, tlsState)
}

// Config configures the embedded broker.
type Config struct {
	// Host and Port of the MQTT listener; Port 0 picks a free port.
	Host string
	Port int
	// StoreDir holds JetStream data (MQTT sessions, QoS 1 messages for
	// offline persistent subscribers). The broker keeps no retained
	// messages (storage.go).
	StoreDir string
	// MaxPayload caps one message, a device's or the server's own push;
	// 0 means DefaultMaxPayload. A client publishing more is disconnected.
	MaxPayload int
	// JetStreamMaxStore and JetStreamMaxMemory cap JetStream's disk and
	// memory in bytes; 0 means DefaultJetStreamMaxStore and
	// DefaultJetStreamMaxMemory.
	JetStreamMaxStore, JetStreamMaxMemory int64
	// TLS, if set, makes the MQTT listener speak TLS (mTLS if it requires
	// client certificates).
	TLS *tls.Config
	// Auth decides every CONNECT. Required.
	Auth Authorizer
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// ReadyTimeout bounds the wait for the listener; default 10 s.
	ReadyTimeout time.Duration
	// Observer, if set, counts every telemetry message per device and
	// hour (observed.go).
	Observer *Observer
	// OnConnect, if set, is told how every device or service CONNECT
	// ended (one of the Connect* results) and how long deciding it took,
	// authorization included. It must not block.
	OnConnect func(result string, d time.Duration)
	// Clock times CONNECTs and paces the logging of refused ones (log.go);
	// nil means the real clock.
	Clock clock.Clock
	// Cluster, if set, joins this broker to a cluster of brokers
	// (cluster.go); nil: a broker of its own.
	Cluster *ClusterConfig
}

// The results OnConnect reports: a closed set, so that a metric labelled
// with them has bounded series.
const (
	ConnectAccepted = "accepted"  // the client is connected
	ConnectDenied   = "denied"    // the Authorizer refused (ErrDenied)
	ConnectError    = "error"     // the Authorizer failed otherwise (timeout, store)
	ConnectClientID = "client_id" // the MQTT client id is not the granted identity
	ConnectBadGrant = "bad_grant" // the grant's topic filters are invalid
	ConnectKicked   = "kicked"    // the identity was kicked while being authorized
)

// Validate checks the configuration.
func (c *Config) Validate() error {
	if c.Auth == nil {
		return errors.New("broker: Config.Auth is required")
	}
	if c.StoreDir == "" {
		return errors.New("broker: Config.StoreDir is required (JetStream keeps MQTT sessions there)")
	}
	if c.Port < 0 || c.Port > 65535 {
		return fmt.Errorf("broker: port %d out of range", c.Port)
	}
	if c.Cluster != nil {
		if err := c.Cluster.Validate(); err != nil {
			return err
		}
	}
	return c.validateLimits()
}

// Broker is a running embedded broker.
type Broker struct {
	ns     *server.Server
	nc     *nats.Conn
	log    *slog.Logger
	secret string
	auth   Authorizer
	onConn func(result string, d time.Duration)
	clk    clock.Clock
	addr   string
	obs    *Observer
	nlog   *natsLogger
	// cluster is the cluster this broker is a member of (nil: none).
	cluster *ClusterConfig
	// streamsDone is closed once the MQTT streams are configured (at
	// once without a cluster; in a cluster when JetStream has a quorum).
	streamsDone chan struct{}
	stop        chan struct{}

	mu      sync.Mutex
	clients map[string][]uint64 // identity → recent NATS client ids
	seen    map[string]uint64   // device id → telemetry messages observed
	kicks   uint64              // Kick calls so far
	kicked  map[string]uint64   // identity → the kicks count at its last Kick
}

const internalUser = "tollgate-internal"

// Start starts the broker and waits until it accepts MQTT connections.
func Start(cfg Config) (*Broker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ReadyTimeout == 0 {
		cfg.ReadyTimeout = 10 * time.Second
	}
	if cfg.Host == "" {
		cfg.Host = "127.0.0.1"
	}
	cfg.applyLimitDefaults()
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	b := &Broker{
		log: cfg.Logger, secret: hex.EncodeToString(secret), auth: cfg.Auth, obs: cfg.Observer,
		onConn: cfg.OnConnect, clk: clock.OrReal(cfg.Clock),
		nlog:    &natsLogger{log: cfg.Logger, refusals: newRefusalLog(cfg.Clock)},
		clients: map[string][]uint64{}, seen: map[string]uint64{}, kicked: map[string]uint64{},
		cluster: cfg.Cluster, streamsDone: make(chan struct{}), stop: make(chan struct{}),
	}
	opts, err := natsOptions(cfg, b)
	if err != nil {
		return nil, err
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	ns.SetLoggerV2(b.nlog, false, false, false)
	go ns.Start()
	if !ns.ReadyForConnections(cfg.ReadyTimeout) {
		ns.Shutdown()
		return nil, ErrNotReady
	}
	b.ns = ns
	vz, err := ns.Varz(nil)
	if err != nil {
		ns.Shutdown()
		return nil, fmt.Errorf("broker: %w", err)
	}
	b.addr = net.JoinHostPort(cfg.Host, strconv.Itoa(vz.MQTT.Port))
	nc, err := nats.Connect("", nats.InProcessServer(ns), nats.UserInfo(internalUser, b.secret), nats.Name("tollgate-broker"))
	if err != nil {
		ns.Shutdown()
		return nil, fmt.Errorf("broker: in-process connection: %w", err)
	}
	b.nc = nc
	// A queue group: in a cluster each message is observed by one member.
	if _, err := nc.QueueSubscribe(telemetrySubject, observerQueue, b.observe); err != nil {
		b.Close()
		return nil, fmt.Errorf("broker: %w", err)
	}
	if cfg.Cluster == nil {
		err = configureStreams(nc, cfg, 1, cfg.ReadyTimeout)
		close(b.streamsDone)
		if err != nil {
			b.Close()
			return nil, err
		}
		return b, nil
	}
	if _, err := nc.Subscribe(kickSubject, b.onKick); err != nil {
		b.Close()
		return nil, fmt.Errorf("broker: %w", err)
	}
	// JetStream needs a quorum of the members, which may start after this
	// one: configure the streams once it has one, without holding up the
	// start (MQTT sessions wait for JetStream meanwhile).
	go b.configureClusterStreams(cfg)
	return b, nil
}

// configureClusterStreams configures the MQTT streams, trying again until
// the cluster's JetStream answers or the broker closes.
func (b *Broker) configureClusterStreams(cfg Config) {
	defer close(b.streamsDone)
	for {
		err := configureStreams(b.nc, cfg, cfg.Cluster.streamReplicas(), clusterRetry*4)
		if err == nil {
			b.log.Info("broker cluster: MQTT streams configured", "replicas", cfg.Cluster.streamReplicas())
			return
		}
		b.log.Info("broker cluster: waiting for JetStream to have a quorum", "error", err)
		select {
		case <-b.stop:
			return
		case <-time.After(clusterRetry): // infrastructure pacing, not ledger time
		}
	}
}

// StreamsReady is closed once the MQTT streams are configured.
func (b *Broker) StreamsReady() <-chan struct{} { return b.streamsDone }

// natsOptions configures nats-server: the MQTT listener alone, JetStream
// in cfg.StoreDir within cfg's limits, every connection authorized by auth.
func natsOptions(cfg Config, auth server.Authentication) (*server.Options, error) {
	port := cfg.Port
	if port == 0 {
		port = -1 // nats-server: pick a free port
	}
	mqttOpts, err := mqttOptions(cfg.Host, port, cfg.TLS)
	if err != nil {
		return nil, err
	}
	o := &server.Options{
		MQTT:                       mqttOpts,
		ServerName:                 "tollgate",
		DontListen:                 true,
		JetStream:                  true,
		StoreDir:                   cfg.StoreDir,
		JetStreamMaxStore:          cfg.JetStreamMaxStore,
		JetStreamMaxMemory:         cfg.JetStreamMaxMemory,
		MaxPayload:                 int32(cfg.MaxPayload),
		NoSigs:                     true,
		CustomClientAuthentication: auth,
	}
	if c := cfg.Cluster; c != nil {
		rport := c.Port
		if rport == 0 {
			rport = -1
		}
		o.ServerName = c.ServerName
		o.Cluster = server.ClusterOpts{Name: ClusterName, Host: c.Host, Port: rport, Username: routeUser, Password: c.Secret}
		o.Routes = c.routeURLs()
		o.MQTT.StreamReplicas = c.streamReplicas()
		// nats-server starts its routes only once a client listener is
		// up: open one on loopback, on a free port. Every client there is
		// still authorized by Check, which refuses all but the broker's
		// own connection and MQTT CONNECTs (a NATS client has no MQTT
		// client id).
		o.DontListen, o.Host, o.Port = false, "127.0.0.1", -1
	}
	return o, nil
}

// MQTTAddr returns the host:port of the MQTT listener.
func (b *Broker) MQTTAddr() string { return b.addr }

// Close disconnects everyone and stops the broker.
func (b *Broker) Close() {
	select {
	case <-b.stop:
	default:
		close(b.stop)
	}
	if b.nc != nil {
		b.nc.Close()
	}
	b.ns.Shutdown()
	b.ns.WaitForShutdown()
}

// Check implements server.Authentication for every connection.
func (b *Broker) Check(c server.ClientAuthentication) bool {
	opts := c.GetOpts()
	if opts.Username == internalUser {
		ok := subtle.ConstantTimeCompare([]byte(opts.Password), []byte(b.secret)) == 1
		if ok {
			c.RegisterUser(&server.User{Username: internalUser})
		}
		return ok
	}
	start := b.clk.Now()
	result := b.checkClient(c, opts)
	if b.onConn != nil {
		b.onConn(result, b.clk.Now().Sub(start))
	}
	return result == ConnectAccepted
}

// checkClient decides the CONNECT of a device or service and names the
// outcome (a Connect* result).
func (b *Broker) checkClient(c server.ClientAuthentication, opts *server.ClientOpts) string {
	ctx, cancel := context.WithTimeout(context.Background(), authTimeout)
	defer cancel()
	b.mu.Lock()
	kicksBefore := b.kicks
	b.mu.Unlock()
	g, err := b.auth.Authorize(ctx, opts.Username, opts.Password, c.GetTLSConnectionState())
	if err != nil {
		b.refused(opts.Username, "remote", addrString(c.RemoteAddress()), "reason", err.Error())
		if errors.Is(err, ErrDenied) {
			return ConnectDenied
		}
		return ConnectError
	}
	cid, ok := mqttClientID(c)
	if !ok {
		b.log.Warn("mqtt connect refused", "username", opts.Username, "remote", addrString(c.RemoteAddress()),
			"reason", "cannot read the MQTT client id from nats-server")
		return ConnectClientID
	}
	if err := checkClientID(g, cid); err != nil {
		b.refused(opts.Username, "client_id", cid, "remote", addrString(c.RemoteAddress()), "reason", err.Error())
		return ConnectClientID
	}
	perms, err := permissions(g)
	if err != nil {
		b.log.Warn("mqtt grant has an invalid topic filter", "identity", g.Identity, "err", err)
		return ConnectBadGrant
	}
	if !b.remember(g.Identity, c.GetID(), kicksBefore) {
		b.refused(opts.Username, "remote", addrString(c.RemoteAddress()), "reason", "kicked while its CONNECT was being authorized")
		return ConnectKicked
	}
	c.RegisterUser(&server.User{Username: g.Identity, Permissions: perms, ConnectionDeadline: g.Deadline})
	return ConnectAccepted
}

// remember records a connection of identity for Kick, unless identity was
// kicked since kicksBefore: its grant may rest on what the kick revoked.
func (b *Broker) remember(identity string, cid uint64, kicksBefore uint64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.kicked[identity] > kicksBefore {
		return false
	}
	ids := append(b.clients[identity], cid)
	if len(ids) > maxTrackedConnsPerIdentity {
		ids = ids[len(ids)-maxTrackedConnsPerIdentity:]
	}
	b.clients[identity] = ids
	return true
}

// Kick disconnects every connection of identity at once and returns how
// many it closed. A CONNECT of identity being authorized meanwhile is
// refused too. In a cluster every other member is told to do the same
// (cluster.go); the count is this member's.
func (b *Broker) Kick(identity string) int {
	n := b.kickLocal(identity)
	b.broadcastKick(identity)
	return n
}

// kickLocal is Kick on this member only.
func (b *Broker) kickLocal(identity string) int {
	b.mu.Lock()
	ids := b.clients[identity]
	delete(b.clients, identity)
	b.kicks++
	b.kicked[identity] = b.kicks
	b.mu.Unlock()
	n := 0
	for _, id := range ids {
		if b.ns.DisconnectClientByID(id) == nil {
			n++
		}
	}
	return n
}

// Publish sends payload to an MQTT topic (for example a device's control
// topic) as the broker itself, and returns once the broker has handed it to
// the subscribers' connections: a Kick right after does not lose it.
func (b *Broker) Publish(topic string, payload []byte) error {
	subj, err := topicToSubject(topic, false)
	if err != nil {
		return err
	}
	if err := b.nc.Publish(subj, payload); err != nil {
		return err
	}
	return b.nc.FlushTimeout(publishFlushTimeout)
}

// Observed returns the number of telemetry messages the broker has seen for
// a device since it started.
func (b *Broker) Observed(deviceID string) uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.seen[deviceID]
}

func (b *Broker) observe(m *nats.Msg) {
	dev, ok := telemetryDevice(m.Subject)
	if !ok {
		return
	}
	b.mu.Lock()
	b.seen[dev]++
	b.mu.Unlock()
	if b.obs != nil {
		b.obs.observeSubject(m.Subject, m.Data)
	}
}

// Kick and Publish make the embedded broker a Service.
var _ Service = (*Broker)(nil)

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}
