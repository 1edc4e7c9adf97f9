package upstream

import (
	"errors"
	"log/slog"
	"time"

	"github.com/eclipse/paho.mqtt.golang/packets"

	"github.com/tollgate-iot/tollgate/agent/internal/limits"
)

// reconnect is the state of a run of failed CONNECTs: the delay before
// the next one and what was last logged, so that a device the broker keeps
// refusing says why once instead of logging the same error every attempt.
type reconnect struct {
	delay   time.Duration
	refused bool
	// logged is the reason or error last logged at WARN.
	logged string
	// round counts the brokers that failed since the last session or the
	// last backoff (failover.go).
	round int
}

// next returns the delay before the next CONNECT, doubling per failure
// from limits.ReconnectMin up to limits.ReconnectMax while the broker
// cannot be reached. A refusal lifts the cap to limits.ReconnectRefusedMax
// (a broker that is starting up and refuses briefly is still retried
// fast at first); when the agent's own state explains the refusal (known)
// the delay starts at limits.ReconnectRefusedMin.
func (r *reconnect) next(refused, known bool) time.Duration {
	lo, hi := limits.ReconnectMin, limits.ReconnectMax
	if refused {
		hi = limits.ReconnectRefusedMax
		if known {
			lo = limits.ReconnectRefusedMin
		}
	}
	if r.delay == 0 || refused != r.refused {
		r.delay = lo
	} else {
		r.delay = min(max(r.delay*2, lo), hi)
	}
	r.refused = refused
	return r.delay
}

// log reports a failed CONNECT: at WARN when its reason (the agent's own
// verdict, else the error) differs from the last one logged, at DEBUG
// otherwise.
func (r *reconnect) log(log *slog.Logger, broker string, err error, reason string, wait time.Duration) {
	key := reason
	if key == "" {
		key = err.Error()
	}
	if key == r.logged {
		log.Debug("upstream connect failed again", "broker", broker, "reason", reason, "err", err, "retry_in", wait)
		return
	}
	r.logged = key
	switch {
	case reason != "":
		log.Warn("upstream broker refuses this device; backing off", "broker", broker, "reason", reason,
			"err", err, "retry_in", wait, "retry_max", limits.ReconnectRefusedMax,
			"fix", "tollgate-agent status shows why; a license that becomes usable reconnects at once")
	case r.refused:
		log.Warn("upstream broker refused this device; backing off", "broker", broker, "err", err,
			"retry_in", wait, "retry_max", limits.ReconnectRefusedMax,
			"fix", "the license server may have revoked or blacklisted it: tollgate-agent sync brings its verdict")
	default:
		log.Warn("upstream connect failed", "broker", broker, "err", err, "retry_in", wait)
	}
}

// refusedConnect reports a CONNECT the broker refused: a CONNACK refusing
// the device's credentials, or the connection closed instead of a CONNACK
// (how the NATS MQTT listener refuses).
func refusedConnect(err error) bool {
	return errors.Is(err, ErrClosedOnConnect) ||
		errors.Is(err, packets.ErrorRefusedNotAuthorised) ||
		errors.Is(err, packets.ErrorRefusedBadUsernameOrPassword) ||
		errors.Is(err, packets.ErrorRefusedIDRejected)
}
