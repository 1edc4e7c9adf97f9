// Package sdk runs a Tollgate agent inside a Go program: firmware written in
// Go links it and hands samples over with a function call instead of HTTP.
// The agent is the same one `tollgate-agent run` runs — same gate, same
// outbox, same upstream publisher, same data directory (initialize it with
// `tollgate-agent init` and `activate` first) — so everything docs/design.md#enforcement-on-the-agent
// promises holds here too. The local HTTP API still listens on
// Config.Ingest (status, metrics); set it to "127.0.0.1:0" for a random
// port.
package sdk

import (
	"context"
	"errors"
	"log/slog"

	"github.com/tollgate-iot/tollgate/agent/internal/config"
	"github.com/tollgate-iot/tollgate/agent/internal/runtime"
	"github.com/tollgate-iot/tollgate/shared/clock"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// Config is the agent's configuration (the JSON of `run --config`).
type Config = config.Config

// Sample is one telemetry sample; Result the agent's answer for it.
type (
	Sample = wire.Sample
	Result = wire.Result
	Status = runtime.Status
)

// DefaultConfig returns the defaults; set at least Data.
func DefaultConfig() Config { return config.Default() }

// Options are optional.
type Options struct {
	// Logger defaults to slog.Default(); it never sees tokens or keys.
	Logger *slog.Logger
	// Clock defaults to the real clock (tests and simulations pass a fake).
	Clock clock.Clock
}

// Agent is a running embedded agent.
type Agent struct {
	a      *runtime.Agent
	cancel context.CancelFunc
	done   chan error
	addr   string
}

// Start opens the data directory and runs the agent until Close.
func Start(ctx context.Context, cfg Config, o Options) (*Agent, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	a, err := runtime.Open(ctx, cfg, runtime.Options{Logger: o.Logger, Clock: o.Clock})
	if err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	ag := &Agent{a: a, cancel: cancel, done: make(chan error, 1)}
	ready := make(chan runtime.Addrs, 1)
	go func() { ag.done <- a.Run(runCtx, func(ad runtime.Addrs) { ready <- ad }) }()
	select {
	case ad := <-ready:
		ag.addr = ad.Ingest
		return ag, nil
	case err := <-ag.done:
		cancel()
		return nil, errors.Join(err, a.Close())
	}
}

// Submit decides every sample and queues the accepted ones durably before
// it returns: one Result per sample, in order. A sample without DeviceID is
// the agent's own.
func (g *Agent) Submit(ctx context.Context, samples ...Sample) ([]Result, error) {
	return g.a.Submit(ctx, samples)
}

// Status reports licenses, budget, refusals and queue.
func (g *Agent) Status() Status { return g.a.Status() }

// Addr returns the local HTTP API's address.
func (g *Agent) Addr() string { return g.addr }

// Close stops the agent, flushing counters, and closes its database.
func (g *Agent) Close() error {
	g.cancel()
	err := <-g.done
	return errors.Join(err, g.a.Close())
}
