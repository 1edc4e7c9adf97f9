package broker

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollgate-iot/tollgate/shared/clock"
)

// ObservedCount is how many telemetry messages the broker saw for one
// device in one hour.
type ObservedCount struct {
	// CustomerID is the customer named in the topic; the ledger keeps the
	// count only if it owns the device.
	CustomerID string
	DeviceID   string
	// Hour is Unix seconds, a multiple of 3600.
	Hour  int64
	Count int64
}

// FlushFunc stores a batch of observed counts (adding them to what is
// stored). An error keeps the batch in memory for the next flush.
type FlushFunc func(ctx context.Context, counts []ObservedCount) error

type obsKey struct {
	customer, device string
	hour             int64
}

// Observer counts the telemetry messages the broker sees per device and
// hour, in memory, and flushes them in batches (docs/design.md#sync: the server keeps
// what it observed next to what the agent reports). A message counts in
// the hour of its envelope's "ts" (the agent's decision time, the hour the
// agent counts it in), so samples an agent stored while offline and sends
// later land in the hour the agent reports them; a ts that is missing or
// further than ObservedMaxAge back or ObservedMaxAhead ahead of the
// server's clock counts in the hour it arrived.
//
// Memory is bounded: at most MaxObservedKeys (device, hour) pairs wait
// for a flush; a message that would need a new pair beyond that is counted
// in Dropped, and a flush is started at once.
type Observer struct {
	clk   clock.Clock
	flush FlushFunc
	log   *slog.Logger

	mu      sync.Mutex
	counts  map[obsKey]int64
	dropped atomic.Int64
	total   atomic.Int64
	full    chan struct{}
}

// NewObserver returns an observer that hands its counts to flush.
func NewObserver(clk clock.Clock, flush FlushFunc, log *slog.Logger) *Observer {
	if log == nil {
		log = slog.Default()
	}
	return &Observer{clk: clock.OrReal(clk), flush: flush, log: log, counts: map[obsKey]int64{}, full: make(chan struct{}, 1)}
}

// ObserveTopic counts one message published on an MQTT topic, if it is a
// telemetry topic tollgate/v1/CUSTOMER/DEVICE/telemetry.
func (o *Observer) ObserveTopic(topic string, payload []byte) {
	c, d, ok := splitTelemetry(topic, '/')
	if ok {
		o.observe(c, d, payload)
	}
}

// observeSubject is ObserveTopic for the embedded broker's NATS subject.
func (o *Observer) observeSubject(subject string, payload []byte) {
	c, d, ok := splitTelemetry(subject, '.')
	if !ok {
		return
	}
	// A '.' in an MQTT topic level is '//' in the subject.
	c, d = strings.ReplaceAll(c, "//", "."), strings.ReplaceAll(d, "//", ".")
	o.observe(c, d, payload)
}

func (o *Observer) observe(customer, device string, payload []byte) {
	now := o.clk.Now().Unix()
	k := obsKey{customer: customer, device: device, hour: observedHour(payload, now)}
	o.total.Add(1)
	o.mu.Lock()
	n, ok := o.counts[k]
	if !ok && len(o.counts) >= MaxObservedKeys {
		o.mu.Unlock()
		o.dropped.Add(1)
		select {
		case o.full <- struct{}{}:
		default:
		}
		return
	}
	o.counts[k] = n + 1
	o.mu.Unlock()
}

// Dropped returns how many messages were not counted because the pending
// counts were full.
func (o *Observer) Dropped() int64 { return o.dropped.Load() }

// Total returns how many messages were counted since start.
func (o *Observer) Total() int64 { return o.total.Load() }

// Pending returns the counts not yet flushed, without taking them.
func (o *Observer) Pending(customer, device string, hour int64) int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.counts[obsKey{customer, device, hour}]
}

// Flush hands the pending counts to the flush function. If it fails, they
// are put back (within the bound) for the next flush.
func (o *Observer) Flush(ctx context.Context) error {
	o.mu.Lock()
	if len(o.counts) == 0 {
		o.mu.Unlock()
		return nil
	}
	taken := o.counts
	o.counts = make(map[obsKey]int64, len(taken))
	o.mu.Unlock()
	batch := make([]ObservedCount, 0, len(taken))
	for k, n := range taken {
		batch = append(batch, ObservedCount{CustomerID: k.customer, DeviceID: k.device, Hour: k.hour, Count: n})
	}
	err := o.flush(ctx, batch)
	if err == nil {
		return nil
	}
	o.mu.Lock()
	for k, n := range taken {
		if _, ok := o.counts[k]; ok || len(o.counts) < MaxObservedKeys {
			o.counts[k] += n
		} else {
			o.dropped.Add(n)
		}
	}
	o.mu.Unlock()
	return err
}

// Run flushes every interval, and at once when the pending counts are
// full, until ctx ends; then it flushes a last time (bounded by
// observedFinalFlushTimeout) so that a clean shutdown loses nothing.
func (o *Observer) Run(ctx context.Context, interval time.Duration) {
	t := o.clk.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), observedFinalFlushTimeout)
			if err := o.Flush(fctx); err != nil {
				o.log.Error("observed telemetry counts lost at shutdown", "error", err)
			}
			cancel()
			return
		case <-t.C():
		case <-o.full:
		}
		if err := o.Flush(ctx); err != nil && ctx.Err() == nil {
			o.log.Warn("observed telemetry counts not flushed; kept for the next flush", "error", err)
		}
	}
}

// observedHour is the hour a message counts in: its envelope's ts if that
// is within the accepted range of now, else the hour of now.
func observedHour(payload []byte, now int64) int64 {
	at := now
	if ts, ok := envelopeTS(payload); ok && ts >= now-int64(ObservedMaxAge/time.Second) && ts <= now+int64(ObservedMaxAhead/time.Second) {
		at = ts
	}
	return at - at%3600
}

var tsField = []byte(`"ts":"`)

// envelopeTS finds the "ts" field of a telemetry envelope without
// decoding the JSON (the broker sees every message): the first "ts":"
// within the envelope's head, up to its closing quote, as RFC 3339.
func envelopeTS(payload []byte) (int64, bool) {
	head := payload[:min(len(payload), maxEnvelopeHead)]
	i := bytes.Index(head, tsField)
	if i < 0 {
		return 0, false
	}
	rest := head[i+len(tsField):]
	j := bytes.IndexByte(rest[:min(len(rest), maxTSLen)], '"')
	if j < 0 {
		return 0, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(rest[:j]))
	if err != nil {
		return 0, false
	}
	return t.Unix(), true
}

// splitTelemetry returns CUSTOMER and DEVICE of
// tollgate SEP v1 SEP CUSTOMER SEP DEVICE SEP telemetry without allocating.
func splitTelemetry(s string, sep byte) (customer, device string, ok bool) {
	const head = "tollgate?v1?"
	if len(s) < len(head) || s[:8] != "tollgate" || s[8] != sep || s[9:11] != "v1" || s[11] != sep {
		return "", "", false
	}
	rest := s[len(head):]
	var parts [3]string
	for i := range 3 {
		j := -1
		for k := 0; k < len(rest); k++ {
			if rest[k] == sep {
				j = k
				break
			}
		}
		if i == 2 {
			if j >= 0 {
				return "", "", false
			}
			parts[2] = rest
			break
		}
		if j <= 0 {
			return "", "", false
		}
		parts[i], rest = rest[:j], rest[j+1:]
	}
	if parts[2] != "telemetry" {
		return "", "", false
	}
	return parts[0], parts[1], true
}
