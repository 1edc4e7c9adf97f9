package broker

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/nats-io/nats.go"
	"github.com/tollgate-iot/tollgate/internal/testkit/ports"

	"github.com/tollgate-iot/tollgate/shared/clock"
)

const testClusterSecret = "0123456789abcdef-cluster-secret"

// startCluster starts n brokers routed to each other and waits until every
// member has its routes and the MQTT streams are configured.
func startCluster(t *testing.T, n int) []*Broker {
	t.Helper()
	ports := ports.Free(t, n)
	var routes []string
	for _, p := range ports {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", p))
	}
	bs := make([]*Broker, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			bs[i], errs[i] = Start(Config{StoreDir: t.TempDir(), Auth: fakeAuth{}, Logger: testLogger(),
				Cluster: &ClusterConfig{ServerName: fmt.Sprintf("member-%d", i), Host: "127.0.0.1", Port: ports[i],
					Routes: routes, Secret: testClusterSecret}})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("member %d: %v", i, err)
		}
		t.Cleanup(bs[i].Close)
	}
	for i, b := range bs {
		eventually(t, func() bool { return b.ClusterRoutes() >= n-1 }, func() string {
			return fmt.Sprintf("member %d has %d routes, want %d", i, b.ClusterRoutes(), n-1)
		})
		select {
		case <-b.StreamsReady():
		case <-time.After(30 * time.Second):
			t.Fatalf("member %d: MQTT streams not configured within 30 s", i)
		}
	}
	return bs
}

// TestClusterKickReachesEveryMember: a device connected to member 0 is
// disconnected within a second when member 2 kicks it (a revocation made
// on the replica the admin's request reached).
func TestClusterKickReachesEveryMember(t *testing.T) {
	bs := startCluster(t, 3)
	dev := mustConnect(t, bs[0], "dev:pump1")
	if n := bs[2].Kick("pump1"); n != 0 {
		t.Fatalf("member 2 closed %d connections of its own", n)
	}
	select {
	case <-dev.lost:
	case <-time.After(time.Second):
		t.Fatal("the device on member 0 was still connected a second after member 2 kicked it")
	}
}

// TestClusterTelemetryAcrossMembers: an application subscribed on member 0
// receives what a device publishes through member 2, and the members
// observe each message once between them.
func TestClusterTelemetryAcrossMembers(t *testing.T) {
	bs := startCluster(t, 3)
	svc := mustConnect(t, bs[0], "svc:dash")
	got := subscribe(t, svc, "tollgate/v1/c1/+/telemetry")
	dev := mustConnect(t, bs[2], "dev:pump1")
	const n = 20
	for i := range n {
		publish(t, dev, "tollgate/v1/c1/pump1/telemetry", fmt.Sprintf("s%d", i))
	}
	for i := range n {
		if m := next(t, got); m != fmt.Sprintf("tollgate/v1/c1/pump1/telemetry s%d", i) {
			t.Fatalf("application got %q", m)
		}
	}
	total := func() (sum uint64) {
		for _, b := range bs {
			sum += b.Observed("pump1")
		}
		return sum
	}
	eventually(t, func() bool { return total() >= n }, func() string { return fmt.Sprintf("observed %d of %d", total(), n) })
	// Settle: a message counted by two members would arrive at the second
	// about when at the first; the application, another subscriber, has
	// all n already.
	publish(t, dev, "tollgate/v1/c1/pump1/telemetry", "last")
	next(t, got)
	eventually(t, func() bool { return total() >= n+1 }, func() string { return fmt.Sprintf("observed %d of %d", total(), n+1) })
	if got := total(); got != n+1 {
		t.Fatalf("the members observed %d messages between them, want %d: counted more than once", got, n+1)
	}
}

// TestClusterRouteNeedsTheSecret: a stranger that reaches the route port
// without the secret is refused before it can join.
func TestClusterRouteNeedsTheSecret(t *testing.T) {
	bs := startCluster(t, 3)
	for _, pass := range []string{"wrong-secret-wrong-secret", ""} {
		c, err := net.DialTimeout("tcp", bs[0].ClusterAddr(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(clock.Real{}.Now().Add(10 * time.Second))
		r := bufio.NewReader(c)
		if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "INFO ") {
			t.Fatalf("route port said %q, %v", line, err)
		}
		fmt.Fprintf(c, "CONNECT {\"user\":%q,\"pass\":%q,\"name\":\"stranger\",\"cluster\":%q}\r\nPING\r\n", routeUser, pass, ClusterName)
		line, _ := r.ReadString('\n')
		c.Close()
		if !strings.Contains(line, "Authorization Violation") {
			t.Fatalf("a route with password %q was answered %q, want an authorization violation", pass, line)
		}
	}
	if n := bs[0].ClusterRoutes(); n != 2 {
		t.Fatalf("member 0 has %d routes, want 2", n)
	}
}

// TestClusterKickSubjectOutOfDevicesReach: a device cannot publish a kick
// of another device, nor listen to the kicks.
func TestClusterKickSubjectOutOfDevicesReach(t *testing.T) {
	bs := startCluster(t, 3)
	kicks := make(chan string, 10)
	sub, err := bs[1].nc.Subscribe(kickSubject, func(m *nats.Msg) { kicks <- string(m.Data) })
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	victim := mustConnect(t, bs[1], "dev:victim")
	svc := mustConnect(t, bs[1], "svc:dash")
	got := subscribe(t, svc, "tollgate/v1/c1/+/telemetry")
	mallory := mustConnect(t, bs[0], "dev:mallory")
	if tok := mallory.c.Subscribe("_TOLLGATE/#", 1, nil); tok.WaitTimeout(5*time.Second) && tok.Error() == nil {
		if q := tok.(*mqtt.SubscribeToken).Result()["_TOLLGATE/#"]; q != 0x80 {
			t.Fatalf("subscription to the kick subject granted at QoS %d", q)
		}
	}
	mallory.c.Publish("_TOLLGATE/kick", 0, false, "victim").WaitTimeout(5 * time.Second)
	// Then a message mallory may send: once it is through, the forbidden
	// one would have been too (one connection, one route, in order).
	publish(t, mallory, "tollgate/v1/c1/mallory/telemetry", "after")
	if m := next(t, got); m != "tollgate/v1/c1/mallory/telemetry after" {
		t.Fatalf("application got %q", m)
	}
	select {
	case k := <-kicks:
		t.Fatalf("a device's publish reached the kick subject: %q", k)
	case <-victim.lost:
		t.Fatal("a device kicked another device")
	default:
	}
}
