package broker

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tollgate-iot/tollgate/shared/ident"
)

// A cluster of embedded brokers (docs/deploy.md "The broker cluster").
//
// The replicas of a server behind one load balancer run one embedded
// broker each; joined by routes they are one broker: a device may connect
// to any of them, an application subscribed on one receives telemetry
// published on another, and JetStream keeps MQTT sessions replicated on up
// to three members. What the broker does on its own account is made
// cluster-wide here:
//
//   - a Kick (a revocation or blacklisting, made on whichever replica the
//     admin's request reached) is broadcast on kickSubject, and every member
//     disconnects the identity's connections it holds;
//   - the telemetry observer subscribes in a queue group, so each message is
//     counted by exactly one member and the ledger's observed counts, which
//     every member adds to, are not multiplied by the cluster's size;
//   - pushes to a device (revocation lists, tokens) are published once, by
//     the replica that made the change, and routed to wherever the device
//     is connected.
//
// Routes authenticate with a secret shared by the members: without it a
// stranger who reaches the route port cannot join the cluster and read or
// inject traffic.

// Cluster bounds and names.
const (
	// ClusterName names the cluster of Tollgate brokers.
	ClusterName = "tollgate"
	// MaxRoutes bounds --routes.
	MaxRoutes = 32
	// MinClusterSecretLen is the shortest route secret accepted.
	MinClusterSecretLen = 16
	// MaxClusterSecretLen bounds the route secret.
	MaxClusterSecretLen = 256
	// MaxStreamReplicas is how many members keep each MQTT stream.
	MaxStreamReplicas = 3

	// routeUser is the user name routes authenticate with.
	routeUser = "tollgate-route"
	// kickSubject carries Kick to every member. It is outside the
	// tollgate.v1 subjects every grant is confined to, so no device or
	// application can publish or subscribe to it.
	kickSubject = "_TOLLGATE.kick"
	// kickOriginHeader names the member that kicked (it has already).
	kickOriginHeader = "Tollgate-Origin"
	// observerQueue is the observer's queue group.
	observerQueue = "tollgate-observer"
	// clusterRetry paces the attempts to configure the MQTT streams while
	// the cluster's JetStream has no quorum.
	clusterRetry = 500 * time.Millisecond
	// maxIdentityLen bounds an identity in a kick broadcast (a device id,
	// or svc:NAME).
	maxIdentityLen = 128
)

// ErrCluster reports a cluster setting that cannot work.
var ErrCluster = errors.New("broker cluster")

// ClusterConfig joins the embedded broker to a cluster.
type ClusterConfig struct {
	// ServerName names this member; unique in the cluster (JetStream
	// tells members apart by it).
	ServerName string
	// Host and Port are the route listener; Port 0 picks a free one.
	Host string
	Port int
	// Routes are the other members' route addresses, nats://HOST:PORT
	// (this member's own address may be listed: it is skipped).
	Routes []string
	// Secret is shared by every member; routes authenticate with it.
	Secret string
}

// Validate checks the cluster settings.
func (c *ClusterConfig) Validate() error {
	if err := ident.CheckID("server name", c.ServerName); err != nil {
		return fmt.Errorf("%w: %v", ErrCluster, err)
	}
	if c.Port < 0 || c.Port > 65535 {
		return fmt.Errorf("%w: route port %d out of range", ErrCluster, c.Port)
	}
	if n := len(c.Secret); n < MinClusterSecretLen || n > MaxClusterSecretLen {
		return fmt.Errorf("%w: route secret of %d bytes, want %d to %d (the same random secret on every member)",
			ErrCluster, n, MinClusterSecretLen, MaxClusterSecretLen)
	}
	if strings.ContainsAny(c.Secret, " \t\r\n") {
		return fmt.Errorf("%w: route secret has white space", ErrCluster)
	}
	if len(c.Routes) > MaxRoutes {
		return fmt.Errorf("%w: %d routes, at most %d", ErrCluster, len(c.Routes), MaxRoutes)
	}
	seen := map[string]bool{}
	for _, r := range c.Routes {
		hp, err := ParseRoute(r)
		if err != nil {
			return err
		}
		if seen[hp] {
			return fmt.Errorf("%w: route %s listed twice", ErrCluster, hp)
		}
		seen[hp] = true
	}
	return nil
}

// ParseRoute checks one route address, nats://HOST:PORT, and returns its
// host:port.
func ParseRoute(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("%w: route %q: %v", ErrCluster, s, err)
	}
	if u.Scheme != "nats" && u.Scheme != "nats-route" {
		return "", fmt.Errorf("%w: route %q: want nats://HOST:PORT", ErrCluster, s)
	}
	if u.User != nil {
		return "", fmt.Errorf("%w: route %q carries credentials: give the secret with the cluster secret file instead", ErrCluster, u.Redacted())
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%w: route %q: want nats://HOST:PORT and nothing after it", ErrCluster, s)
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil || host == "" {
		return "", fmt.Errorf("%w: route %q: want nats://HOST:PORT", ErrCluster, s)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return "", fmt.Errorf("%w: route %q: port must be 1..65535", ErrCluster, s)
	}
	return u.Host, nil
}

// streamReplicas is how many members keep each MQTT stream: every member
// up to MaxStreamReplicas (the routes name the others).
func (c *ClusterConfig) streamReplicas() int {
	return min(MaxStreamReplicas, len(c.Routes)+1)
}

// routeURLs are the routes with the route credentials.
func (c *ClusterConfig) routeURLs() []*url.URL {
	out := make([]*url.URL, 0, len(c.Routes))
	for _, r := range c.Routes {
		hp, err := ParseRoute(r)
		if err != nil {
			continue // Validate refused it already
		}
		out = append(out, &url.URL{Scheme: "nats-route", User: url.UserPassword(routeUser, c.Secret), Host: hp})
	}
	return out
}

// broadcastKick tells the other members to kick identity.
func (b *Broker) broadcastKick(identity string) {
	if b.cluster == nil {
		return
	}
	m := nats.NewMsg(kickSubject)
	m.Header.Set(kickOriginHeader, b.cluster.ServerName)
	m.Data = []byte(identity)
	if err := b.nc.PublishMsg(m); err != nil {
		b.log.Warn("mqtt kick not broadcast to the cluster", "identity", identity, "error", err)
		return
	}
	if err := b.nc.FlushTimeout(publishFlushTimeout); err != nil {
		b.log.Warn("mqtt kick broadcast not flushed", "identity", identity, "error", err)
	}
}

// onKick kicks, on this member, an identity another member kicked.
func (b *Broker) onKick(m *nats.Msg) {
	if m.Header.Get(kickOriginHeader) == b.cluster.ServerName {
		return // ours: kicked already
	}
	identity := string(m.Data)
	if len(identity) == 0 || len(identity) > maxIdentityLen {
		return
	}
	if n := b.kickLocal(identity); n > 0 {
		b.log.Info("mqtt connection closed: kicked on another cluster member", "identity", identity,
			"member", m.Header.Get(kickOriginHeader), "connections", n)
	}
}

// ClusterAddr returns the host:port of the route listener ("" without a
// cluster).
func (b *Broker) ClusterAddr() string {
	if b.cluster == nil {
		return ""
	}
	vz, err := b.ns.Varz(nil)
	if err != nil {
		return ""
	}
	return net.JoinHostPort(b.cluster.Host, strconv.Itoa(vz.Cluster.Port))
}

// ClusterRoutes returns how many other members this one has a route to
// (nats-server pools several connections per member; they count once).
func (b *Broker) ClusterRoutes() int {
	if b.cluster == nil {
		return 0
	}
	rz, err := b.ns.Routez(nil)
	if err != nil {
		return 0
	}
	members := map[string]bool{}
	for _, r := range rz.Routes {
		members[r.RemoteID] = true
	}
	return len(members)
}
