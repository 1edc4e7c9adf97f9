package drive

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollgate-iot/tollgate/firmware-sim/internal/fleet"
	"github.com/tollgate-iot/tollgate/firmware-sim/internal/limits"
	"github.com/tollgate-iot/tollgate/firmware-sim/internal/pattern"
	"github.com/tollgate-iot/tollgate/shared/clock"
)

// Agent is one agent the run drives and the devices it serves.
type Agent struct {
	Target *fleet.Target
	// Bridge is the local broker URL a gateway's children publish to; empty
	// means the devices' samples are posted to the agent over HTTP.
	Bridge  string
	Devices []*Device
	// Before and After are the agent's status when the run started and
	// once it had accounted for every sample.
	Before, After *fleet.Status
	// Settled reports whether the agent accounted for every sample and
	// emptied its outbox before the drain timeout.
	Settled bool

	bridge *bridgeSender
}

// SimClock tells the simulated time.
type SimClock interface{ Now() time.Time }

// Options configure a run.
type Options struct {
	Pattern pattern.Pattern
	Sim     SimClock
	// Wall paces the drivers and the progress line (real time).
	Wall clock.Clock
	Tick time.Duration
	// From and To bound the run in simulated time.
	From, To time.Time
	// Progress, if set, is called every ProgressEvery of real time and once
	// at the end.
	Progress      func(Progress)
	ProgressEvery time.Duration
	// ClientID prefixes the MQTT client ids of bridge connections.
	ClientID string
}

// Progress is the running total of a run.
type Progress struct {
	Sim                     time.Time
	Sent, Accepted, Refused int64
	// Bridged counts samples handed to local brokers, whose outcome the
	// run learns only from the gateways' status at the end.
	Bridged int64
	Final   bool
}

type totals struct{ sent, accepted, refused, bridged atomic.Int64 }

// Connect dials the local brokers of bridged gateways and waits until each
// gateway's bridge receives from its broker, all gateways at once.
func Connect(ctx context.Context, o Options, agents []*Agent) error {
	var wg sync.WaitGroup
	errs := make([]error, len(agents))
	for i, a := range agents {
		if a.Bridge == "" {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := dialBridge(a.Bridge, o.ClientID+"-"+itoa(i))
			if err != nil {
				errs[i] = err
				return
			}
			a.bridge = s
			errs[i] = s.waitSubscribed(ctx, a.Target, limits.BridgeReadyTimeout, clock.OrReal(o.Wall).After)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Close disconnects from the local brokers.
func Close(agents []*Agent) {
	for _, a := range agents {
		if a.bridge != nil {
			a.bridge.close()
		}
	}
}

// Run drives every agent's devices from o.From to o.To in simulated time;
// the first error stops the run.
func Run(ctx context.Context, o Options, agents []*Agent) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var tot totals
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for _, a := range agents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := runAgent(ctx, o, a, &tot); err != nil && !errors.Is(err, context.Canceled) {
				once.Do(func() { first = err; cancel() })
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	report := func(final bool) {
		if o.Progress == nil {
			return
		}
		now := o.Sim.Now()
		if now.After(o.To) || final {
			now = o.To
		}
		o.Progress(Progress{Sim: now, Sent: tot.sent.Load(), Accepted: tot.accepted.Load(),
			Refused: tot.refused.Load(), Bridged: tot.bridged.Load(), Final: final})
	}
	if o.Progress != nil && o.ProgressEvery > 0 {
		tk := clock.OrReal(o.Wall).NewTicker(o.ProgressEvery)
	loop:
		for {
			select {
			case <-done:
				break loop
			case <-tk.C():
				report(false)
			}
		}
		tk.Stop()
	}
	<-done
	if first == nil && ctx.Err() != nil {
		first = ctx.Err()
	}
	report(true)
	return first
}

// sender is an ingest path.
type sender interface {
	add(ctx context.Context, d *Device, ts time.Time) error
	flush(ctx context.Context) error
}

func runAgent(ctx context.Context, o Options, a *Agent, tot *totals) error {
	var s sender
	if a.bridge != nil {
		s = a.bridge
	} else {
		s = newHTTPSender(a.Target)
	}
	tk := clock.OrReal(o.Wall).NewTicker(o.Tick)
	defer tk.Stop()
	last := o.From
	times := make([]time.Time, 0, 256)
	var prevSent, prevAcc, prevRef int64
	for {
		now := o.Sim.Now()
		end := !now.Before(o.To)
		if end {
			now = o.To
		}
		for _, d := range a.Devices {
			times = o.Pattern.Append(times[:0], last, now)
			for _, ts := range times {
				if err := s.add(ctx, d, ts); err != nil {
					return err
				}
			}
		}
		if err := s.flush(ctx); err != nil {
			return err
		}
		var sent, acc, ref int64
		for _, d := range a.Devices {
			sent += d.Sent
			acc += d.Accepted
			ref += refusedSum(d)
		}
		if a.bridge != nil {
			tot.bridged.Add(sent - prevSent)
		}
		tot.sent.Add(sent - prevSent)
		tot.accepted.Add(acc - prevAcc)
		tot.refused.Add(ref - prevRef)
		prevSent, prevAcc, prevRef = sent, acc, ref
		last = now
		if end {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tk.C():
		}
	}
}

func refusedSum(d *Device) int64 {
	var n int64
	for _, v := range d.Refused {
		n += v
	}
	return n
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}
