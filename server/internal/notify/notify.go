// Package notify delivers the ledger's outbox: it reads the webhook
// deliveries that are due, POSTs each event signed the Standard Webhooks
// way, and records every attempt's outcome back in the ledger, which
// decides the retry (docs/webhooks.md). A delivery is marked done only
// after the receiver answered 2xx, so a crash re-sends it — with the same
// webhook-id, which receivers dedupe on.
package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/egress"
	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/shared/clock"
)

// Ledger is the part of the ledger the deliverer drives.
type Ledger interface {
	DueDeliveries(ctx context.Context, limit int) ([]ledger.DueDelivery, error)
	RecordAttempt(ctx context.Context, deliveryID string, status int, errText string) error
	// PruneOutbox deletes a bounded batch of old finished deliveries and
	// events.
	PruneOutbox(ctx context.Context) (int, error)
}

// Options configures New.
type Options struct {
	Ledger Ledger
	Clock  clock.Clock
	// Guard is checked on every connection, against the address dialled
	// (the zero Guard refuses private addresses).
	Guard  egress.Guard
	Logger *slog.Logger
	// Interval is how often due retries are looked for; DefaultInterval
	// when zero.
	Interval time.Duration
	// Wake, if set, starts a pass at once when it receives (the ledger
	// queued a delivery).
	Wake <-chan struct{}
	// OnAttempt, if set, is called after every attempt (metrics, tests).
	OnAttempt func(d ledger.Delivery, status int, err error)
}

// Deliverer sends due webhook deliveries.
type Deliverer struct {
	o      Options
	clock  clock.Clock
	client *http.Client
}

// New returns a deliverer; Run starts it.
func New(o Options) *Deliverer {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	dialer := &net.Dialer{Timeout: DeliveryTimeout, Control: o.Guard.Control}
	tr := &http.Transport{
		Proxy:                 nil, // the guard must see the receiver's address, not a proxy's
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   DeliveryTimeout,
		ResponseHeaderTimeout: DeliveryTimeout,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       90 * time.Second,
	}
	client := &http.Client{
		Transport: tr,
		Timeout:   DeliveryTimeout,
		// A redirect is not followed: a receiver answers 2xx at its URL,
		// and a redirect must not lead the server anywhere else.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return &Deliverer{o: o, clock: clock.OrReal(o.Clock), client: client}
}

// Run passes once at start, then whenever woken or on every interval,
// each pass followed by a bounded pruning of the outbox, until ctx ends; it returns after the attempts in flight are recorded.
func (d *Deliverer) Run(ctx context.Context) {
	t := d.clock.NewTicker(d.o.Interval)
	defer t.Stop()
	defer d.client.CloseIdleConnections()
	for {
		if _, err := d.RunOnce(ctx); err != nil && ctx.Err() == nil {
			d.o.Logger.Error("webhook delivery pass failed", "error", err)
		}
		if n, err := d.o.Ledger.PruneOutbox(ctx); err != nil && ctx.Err() == nil {
			d.o.Logger.Error("webhook outbox pruning failed", "error", err)
		} else if n > 0 {
			d.o.Logger.Info("webhook outbox pruned", "deleted", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		case <-d.o.Wake:
		}
	}
}

// RunOnce attempts every delivery due now (bounded: a larger backlog is
// continued by the next pass) and returns how many it attempted.
func (d *Deliverer) RunOnce(ctx context.Context) (int, error) {
	n := 0
	for range maxBatchesPerPass {
		if ctx.Err() != nil {
			return n, nil
		}
		due, err := d.o.Ledger.DueDeliveries(ctx, ledger.MaxDueDeliveries)
		if err != nil || len(due) == 0 {
			return n, err
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		var firstErr error
		sem := make(chan struct{}, MaxConcurrent)
		for _, dd := range due {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				if err := d.attempt(ctx, dd); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		n += len(due)
		if firstErr != nil {
			return n, firstErr
		}
	}
	return n, nil
}

// attempt sends one delivery and records the outcome. Only a failure to
// record is returned: a receiver's failure is the ledger's to retry.
func (d *Deliverer) attempt(ctx context.Context, dd ledger.DueDelivery) error {
	status, sendErr := d.send(ctx, dd)
	if ctx.Err() != nil && status == 0 {
		return nil // shutting down: the delivery stays due, and is sent again
	}
	errText := ""
	switch {
	case sendErr != nil:
		errText = sendErr.Error()
	case status >= 300 && status < 400:
		errText = fmt.Sprintf("answered %d: redirects are not followed; register the final URL", status)
	case status < 200 || status >= 300:
		errText = fmt.Sprintf("answered %d", status)
	}
	if d.o.OnAttempt != nil {
		d.o.OnAttempt(dd.Delivery, status, sendErr)
	}
	if errText != "" {
		d.o.Logger.Warn("webhook attempt failed", "delivery_id", dd.Delivery.ID, "webhook_id", dd.Delivery.WebhookID,
			"status", status, "error", errText)
	}
	// Recorded even when the pass is being stopped: the receiver has it.
	return d.o.Ledger.RecordAttempt(context.WithoutCancel(ctx), dd.Delivery.ID, status, errText)
}

func (d *Deliverer) send(ctx context.Context, dd ledger.DueDelivery) (int, error) {
	at := d.clock.Now()
	sig, err := Sign(dd.Secret, dd.Delivery.EventID, at, dd.Body)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, DeliveryTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, dd.URL, bytes.NewReader(dd.Body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "tollgate-webhooks/1")
	req.Header.Set(HeaderID, dd.Delivery.EventID)
	req.Header.Set(HeaderTimestamp, fmt.Sprint(at.Unix()))
	req.Header.Set(HeaderSignature, sig)
	resp, err := d.client.Do(req)
	if err != nil {
		if errors.Is(err, egress.ErrForbiddenAddress) {
			return 0, fmt.Errorf("refused at dial time: %w", err)
		}
		return 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, MaxResponseRead))
	return resp.StatusCode, nil
}
