package broker

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
)

// BuildFunc makes the push for one device: the topic to publish on and the
// signed document. It runs when the push is sent, so it carries the newest
// tokens even if several changes queued the device.
type BuildFunc func(ctx context.Context, deviceID string) (topic string, payload []byte, err error)

// PublishFunc sends one message (the embedded broker's Publish, or the
// external service client's).
type PublishFunc func(topic string, payload []byte) error

// PushQueue sends token pushes (docs/sync.md: a signed sync answer with an
// empty nonce) from one goroutine, so that the ledger change that caused a
// push never waits for signing and publishing. A device queued again
// before its push went out is sent once. At most MaxPendingPushes devices
// wait; beyond that a push is dropped and counted: the agent gets its
// tokens at its next sync.
type PushQueue struct {
	build   BuildFunc
	publish PublishFunc
	log     *slog.Logger

	mu      sync.Mutex
	order   []string
	pending map[string]bool
	wake    chan struct{}

	sent, failed, dropped atomic.Int64
}

// NewPushQueue returns a queue; Run sends what it is given.
func NewPushQueue(build BuildFunc, publish PublishFunc, log *slog.Logger) *PushQueue {
	if log == nil {
		log = slog.Default()
	}
	return &PushQueue{build: build, publish: publish, log: log, pending: map[string]bool{}, wake: make(chan struct{}, 1)}
}

// Add queues a push to deviceID. It never blocks; it returns false if the
// queue was full and the push was dropped.
func (q *PushQueue) Add(deviceID string) bool {
	q.mu.Lock()
	if !q.pending[deviceID] {
		if len(q.order) >= MaxPendingPushes {
			q.mu.Unlock()
			q.dropped.Add(1)
			return false
		}
		q.pending[deviceID] = true
		q.order = append(q.order, deviceID)
	}
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return true
}

// Run sends queued pushes until ctx ends.
func (q *PushQueue) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-q.wake:
		}
		for ctx.Err() == nil {
			dev, ok := q.next()
			if !ok {
				break
			}
			q.send(ctx, dev)
		}
	}
}

func (q *PushQueue) next() (string, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.order) == 0 {
		return "", false
	}
	dev := q.order[0]
	q.order[0] = ""
	q.order = q.order[1:]
	if len(q.order) == 0 {
		q.order = nil // let the backing array go
	}
	delete(q.pending, dev)
	return dev, true
}

func (q *PushQueue) send(ctx context.Context, dev string) {
	topic, payload, err := q.build(ctx, dev)
	if err == nil {
		err = q.publish(topic, payload)
	}
	if err != nil {
		q.failed.Add(1)
		q.log.Warn("token push failed; the agent gets its tokens at its next sync", "device_id", dev, "error", err)
		return
	}
	q.sent.Add(1)
}

// Stats returns the pushes sent, failed (build or publish) and dropped
// (queue full) so far.
func (q *PushQueue) Stats() (sent, failed, dropped int64) {
	return q.sent.Load(), q.failed.Load(), q.dropped.Load()
}
