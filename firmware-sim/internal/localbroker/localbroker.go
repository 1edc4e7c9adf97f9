// Package localbroker runs the MQTT broker a gateway has on board, which
// its child devices publish to and its agent's bridge reads from (a real
// gateway runs Mosquitto or the like). firmware-sim offers it so that the
// demo and tests need nothing installed: it is the NATS server's MQTT
// listener, with no authentication (loopback only) and its session store
// in a directory.
package localbroker

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// ErrAddr reports a listen address that is not a loopback HOST:PORT.
var ErrAddr = errors.New("local broker address")

// ErrStart reports a broker that did not start.
var ErrStart = errors.New("local broker start")

// readyTimeout bounds the broker's start.
const readyTimeout = 15 * time.Second

// Broker is a running local broker.
type Broker struct {
	ns   *server.Server
	addr string
}

// ParseAddr checks a listen address: a loopback IP and a port (0: any
// free one). The broker has no authentication, so it never listens beyond
// the machine.
func ParseAddr(s string) (host string, port int, err error) {
	h, p, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, fmt.Errorf("%w: %q: %v", ErrAddr, s, err)
	}
	ip := net.ParseIP(h)
	if h == "localhost" {
		ip = net.IPv4(127, 0, 0, 1)
	}
	if ip == nil || !ip.IsLoopback() {
		return "", 0, fmt.Errorf("%w: %q: the local broker has no authentication, so it listens on loopback only", ErrAddr, h)
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 0 || n > 65535 {
		return "", 0, fmt.Errorf("%w: port %q", ErrAddr, p)
	}
	return ip.String(), n, nil
}

// Start runs a broker on addr with its store in dir.
func Start(addr, dir string) (*Broker, error) {
	host, port, err := ParseAddr(addr)
	if err != nil {
		return nil, err
	}
	if port == 0 {
		port = -1 // nats-server: a free port
	} else {
		// nats-server does not report a listener it could not open (it only
		// never becomes ready): try the address first.
		ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrStart, err)
		}
		ln.Close()
	}
	ns, err := server.NewServer(&server.Options{
		ServerName: "firmware-sim-local", DontListen: true, JetStream: true, StoreDir: dir,
		NoSigs: true, NoLog: true, MQTT: server.MQTTOpts{Host: host, Port: port},
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrStart, err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(readyTimeout) {
		ns.Shutdown()
		return nil, fmt.Errorf("%w: not ready in %v", ErrStart, readyTimeout)
	}
	vz, err := ns.Varz(nil)
	if err != nil {
		ns.Shutdown()
		return nil, fmt.Errorf("%w: %v", ErrStart, err)
	}
	return &Broker{ns: ns, addr: net.JoinHostPort(host, strconv.Itoa(vz.MQTT.Port))}, nil
}

// URL returns tcp://HOST:PORT, what `tollgate-agent run --bridge` takes.
func (b *Broker) URL() string { return "tcp://" + b.addr }

// Close stops the broker.
func (b *Broker) Close() {
	b.ns.Shutdown()
	b.ns.WaitForShutdown()
}
