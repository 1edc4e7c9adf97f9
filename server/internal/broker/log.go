package broker

import (
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollgate-iot/tollgate/shared/clock"
)

// retainedStoreFailed starts the line nats-server logs, for the client,
// each time it cannot store a retained message.
const retainedStoreFailed = "unable to store retained message"

// natsAuthError is in the lines nats-server logs after the authorizer
// refused a CONNECT; the broker's own "mqtt connect refused" line already
// says who and why.
const natsAuthError = "authentication error"

// natsOldProtocol is in the line nats-server logs when a client offers
// MQTT 3.1, as paho clients do after a refused 3.1.1 CONNECT.
const natsOldProtocol = "older protocol"

// natsLogger forwards nats-server's log lines to slog. A retained message
// the broker refuses to store (storage.go) is counted and logged at debug:
// it is the policy working, and a device repeating it must not flood the
// log.
type natsLogger struct {
	log             *slog.Logger
	retainedRefused atomic.Uint64
	refusals        *refusalLog
}

func (l *natsLogger) Noticef(format string, v ...any) {
	l.log.Info(fmt.Sprintf(format, v...), "component", "broker")
}
func (l *natsLogger) Warnf(format string, v ...any) {
	l.log.Warn(fmt.Sprintf(format, v...), "component", "broker")
}
func (l *natsLogger) Fatalf(format string, v ...any) {
	l.log.Error(fmt.Sprintf(format, v...), "component", "broker")
}
func (l *natsLogger) Errorf(format string, v ...any) {
	if strings.Contains(format, retainedStoreFailed) {
		l.retainedRefused.Add(1)
		l.log.Debug(fmt.Sprintf(format, v...), "component", "broker")
		return
	}
	msg := fmt.Sprintf(format, v...)
	if strings.Contains(msg, natsAuthError) {
		l.log.Debug(msg, "component", "broker")
		return
	}
	if strings.Contains(msg, natsOldProtocol) {
		// nats-server's line starts "HOST:PORT - "; one line per host and interval.
		addr, _, _ := strings.Cut(msg, " ")
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			host = addr
		}
		if ok, suppressed := l.refusals.allow("protocol@" + host); ok {
			l.log.Info(msg, "component", "broker", "suppressed", suppressed)
			return
		}
		l.log.Debug(msg, "component", "broker")
		return
	}
	l.log.Error(msg, "component", "broker")
}
func (l *natsLogger) Debugf(format string, v ...any) {
	l.log.Debug(fmt.Sprintf(format, v...), "component", "broker")
}
func (l *natsLogger) Tracef(format string, v ...any) {
	l.log.Debug(fmt.Sprintf(format, v...), "component", "broker")
}

// refusalLog decides which refused CONNECTs are logged at INFO: the first
// of each client (a device id, a service name) per
// RefusedConnectLogInterval, carrying how many were refused since the last
// one logged; the others at debug. A cut-off device that reconnects every
// few seconds is then one line per interval, not several per attempt. It
// remembers at most maxKeys clients; past that, after forgetting those not
// seen for an interval, new ones are logged at debug until room frees.
type refusalLog struct {
	clock   clock.Clock
	maxKeys int

	mu   sync.Mutex
	last map[string]*refusal
}

type refusal struct {
	logged     time.Time // when the last INFO line for this client was written
	suppressed int       // refusals since then, logged at debug
}

func newRefusalLog(c clock.Clock) *refusalLog {
	return &refusalLog{clock: clock.OrReal(c), maxKeys: MaxRefusalLogClients, last: map[string]*refusal{}}
}

// allow reports whether a refusal of key is logged at INFO now, and how
// many refusals of key were logged at debug since its last INFO line.
func (r *refusalLog) allow(key string) (bool, int) {
	now := r.clock.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.last[key]; ok {
		if now.Sub(e.logged) < RefusedConnectLogInterval {
			e.suppressed++
			return false, 0
		}
		n := e.suppressed
		e.logged, e.suppressed = now, 0
		return true, n
	}
	if len(r.last) >= r.maxKeys {
		for k, e := range r.last {
			if now.Sub(e.logged) >= RefusedConnectLogInterval {
				delete(r.last, k)
			}
		}
		if len(r.last) >= r.maxKeys {
			return false, 0
		}
	}
	r.last[key] = &refusal{logged: now}
	return true, 0
}

// refused logs a refused CONNECT of username: at INFO when refusals lets
// it through, else at debug.
func (b *Broker) refused(username string, attrs ...any) {
	key := username
	if key == "" {
		key = "(no username)"
	}
	attrs = append([]any{"username", username}, attrs...)
	if ok, suppressed := b.nlog.refusals.allow(key); ok {
		b.log.Info("mqtt connect refused", append(attrs, "suppressed", suppressed)...)
		return
	}
	b.log.Debug("mqtt connect refused", attrs...)
}
