package upstream

import (
	"crypto/tls"
	"math/rand/v2"
	"net/url"
	"time"

	"github.com/tollgate-iot/tollgate/agent/internal/limits"
)

// Failover between the brokers of one cluster (docs/agent.md "Several
// servers and brokers"). The replicas of a license server run one broker
// cluster, so a device may publish through any of them. A CONNECT that
// cannot reach its broker moves to the next address after a short random
// pause; once every address failed in a row, the usual doubling backoff
// applies, spread by jitter, and the next round starts at the next
// address. A session that ends starts again at the broker it was on (a
// broker that restarted is back), falling over from there. A broker that
// refuses the device (CONNACK not authorized, or the connection closed
// instead) is not a reason to move: every member of the cluster asks the
// same ledger and gives the same verdict, so the refusal backoff applies.
// Nothing of the outbox changes with the address: what was not
// acknowledged is sent again on the next session, wherever it is.

// failover moves the next CONNECT to the next broker after a failed one,
// unless every broker failed in this round; it reports whether it moved.
func (p *Publisher) failover(rc *reconnect, err error) bool {
	if len(p.brokers) < 2 {
		return false
	}
	from := p.broker()
	p.cur = (p.cur + 1) % len(p.brokers)
	p.current.Store(&p.brokers[p.cur])
	rc.round++
	if rc.round >= len(p.brokers) {
		rc.round = 0
		return false // a whole round failed: back off before the next one
	}
	p.failovers.Add(1)
	p.log.Warn("upstream broker unreachable: trying the next", "broker", from, "next", p.broker(), "err", err)
	return true
}

// failoverPause is the wait before trying the next broker: short, and
// random, so that the devices of a broker that died do not all arrive at
// the next one in the same instant.
func failoverPause() time.Duration {
	return time.Duration(rand.Int64N(int64(limits.FailoverPauseMax) + 1))
}

// jitter spreads a backoff delay d over [d/2, d].
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// broker is the address the next CONNECT goes to.
func (p *Publisher) broker() string { return *p.current.Load() }

// Broker returns the address of the broker the publisher is connected to,
// or will try next.
func (p *Publisher) Broker() string { return p.broker() }

// Failovers counts moves to the next broker after one could not be reached.
func (p *Publisher) Failovers() int64 { return p.failovers.Load() }

// tlsFor is the TLS configuration for broker: with several addresses,
// each is verified against its own host name.
func (p *Publisher) tlsFor(broker string) *tls.Config {
	if len(p.brokers) < 2 {
		return p.o.TLS
	}
	tc := p.o.TLS.Clone()
	if u, err := url.Parse(broker); err == nil {
		tc.ServerName = u.Hostname()
	}
	return tc
}
