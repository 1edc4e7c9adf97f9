package runtime

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tollgate-iot/tollgate/agent/internal/bridge"
	"github.com/tollgate-iot/tollgate/agent/internal/gate"
	"github.com/tollgate-iot/tollgate/agent/internal/ingest"
	"github.com/tollgate-iot/tollgate/agent/internal/limits"
	"github.com/tollgate-iot/tollgate/agent/internal/outbox"
	"github.com/tollgate-iot/tollgate/agent/internal/upstream"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// ErrNotRunning reports a Submit on an agent whose Run has not started.
var ErrNotRunning = errors.New("agent is not running")

// Addrs are where a running agent listens.
type Addrs struct {
	// Ingest is the local API address: HOST:PORT or unix:PATH.
	Ingest string
	// Metrics is the extra metrics address, if configured.
	Metrics string
}

// running is what Run starts.
type running struct {
	ob     *outbox.Outbox
	pipe   *ingest.Pipeline
	pub    *upstream.Publisher
	bridge *bridge.Bridge
}

// Run enforces, ingests and publishes until ctx ends; ready is called once
// the listeners are up. Run closes nothing: the caller closes the Agent.
func (a *Agent) Run(ctx context.Context, ready func(Addrs)) error {
	ob, err := outbox.Open(a.st, a.cfg.QueueMax, a.cfg.SyncEveryCommit)
	if err != nil {
		return err
	}
	r := &running{ob: ob}
	r.pipe = ingest.New(ingest.Options{Gate: a.gate, Outbox: ob, Store: a.st, Clock: a.clk,
		DefaultDevice: a.id.DeviceID, Logger: a.log})
	a.setRunning(r)
	defer a.setRunning(nil)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	pipeCtx, stopPipe := context.WithCancel(context.WithoutCancel(ctx))
	wg.Add(1)
	go func() { defer wg.Done(); r.pipe.Run(pipeCtx) }()

	if a.cfg.Broker != "" {
		if r.pub, err = a.newPublisher(ob); err != nil {
			stopPipe()
			wg.Wait()
			return err
		}
		wg.Add(1)
		go func() { defer wg.Done(); r.pub.Run(ctx) }()
	}
	srvs, addrs, err := a.listen(r)
	if err != nil {
		cancel()
		stopPipe()
		wg.Wait()
		return err
	}
	if err := os.WriteFile(AddrFile(a.cfg.Data), []byte(addrs.Ingest+"\n"), 0o600); err != nil {
		a.log.Warn("cannot record the control address", "err", err)
	}
	wg.Add(1)
	go func() { defer wg.Done(); a.flushLoop(ctx) }()
	if a.serverURL() != "" {
		wg.Add(1)
		go func() { defer wg.Done(); a.syncLoop(ctx) }()
	}
	if a.cfg.Bridge != "" {
		r.bridge = bridge.New(bridge.Options{Broker: a.cfg.Bridge, ClientID: "tollgate-bridge-" + a.id.DeviceID,
			Ingest: r.pipe, Store: a.st, Logger: a.log})
		wg.Add(1)
		go func() { defer wg.Done(); r.bridge.Run(ctx) }()
	}
	if ready != nil {
		ready(addrs)
	}
	<-ctx.Done()
	sctx, scancel := context.WithTimeout(context.Background(), limits.ShutdownTimeout)
	defer scancel()
	for _, s := range srvs {
		s.Shutdown(sctx)
	}
	stopPipe()
	cancel()
	wg.Wait()
	os.Remove(AddrFile(a.cfg.Data))
	return a.persistCounters()
}

func (a *Agent) setRunning(r *running) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.run = r
}

func (a *Agent) current() *running {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.run
}

// Submit hands samples to a running agent: the Go ingest API.
func (a *Agent) Submit(ctx context.Context, samples []wire.Sample) ([]wire.Result, error) {
	r := a.current()
	if r == nil {
		return nil, ErrNotRunning
	}
	return r.pipe.Submit(ctx, samples)
}

// flushLoop persists counters and the clock in batches.
func (a *Agent) flushLoop(ctx context.Context) {
	t := a.timers.NewTicker(limits.CounterFlushInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
			if err := a.persistCounters(); err != nil {
				a.log.Error("persisting counters failed", "err", err)
			}
		}
	}
}

// password returns the token of the device's first usable license: the
// upstream broker authenticates the device by it.
func (a *Agent) password() string {
	d := a.gate.Lookup(a.id.DeviceID)
	if d == nil {
		return ""
	}
	lics := d.Licenses()
	eff, _ := a.clk.Now()
	for _, l := range lics {
		if a.gate.Check(d, l, eff/1e9) == gate.OK {
			return l.Text
		}
	}
	if len(lics) > 0 {
		return lics[len(lics)-1].Text
	}
	return ""
}

// refusal names why the upstream broker would refuse this device's
// CONNECT, as far as its own state tells: blacklisted (with the device's
// own reason), no license, or the reason its best license cannot be used
// (revoked, suspended, expired, …); "" when a license is usable.
func (a *Agent) refusal() string {
	d := a.gate.Lookup(a.id.DeviceID)
	if d == nil {
		return gate.NoLicense.String()
	}
	if black, why := d.SelfBlacklisted(); black {
		return gate.Blacklisted.String() + " (" + why + ")"
	}
	if rev := a.gate.Revocation(); rev != nil && rev.DeviceBlacklisted(d.ID) {
		return gate.Blacklisted.String() + " (by the license server)"
	}
	lics := d.Licenses()
	if len(lics) == 0 {
		return gate.NoLicense.String()
	}
	eff, _ := a.clk.Now()
	why := gate.OK
	for _, l := range lics {
		r := a.gate.Check(d, l, eff/1e9)
		if r == gate.OK {
			return ""
		}
		if why == gate.OK {
			why = r
		}
	}
	return why.String()
}

func (a *Agent) newPublisher(ob *outbox.Outbox) (*upstream.Publisher, error) {
	o := upstream.Options{Broker: a.cfg.Broker, ClientID: a.id.DeviceID, Username: a.id.DeviceID,
		Password: a.password, MaxInflight: a.cfg.MaxInflight, Outbox: ob, Clock: a.timers, Logger: a.log,
		ControlTopic: a.controlTopic, Control: a.control, OnConnect: a.kickSync, Refusal: a.refusal,
		ConnectDone: func(err error, d time.Duration) { a.lat.connect.WithLabelValues(result(err)).Observe(d.Seconds()) }}
	if strings.Contains(a.cfg.Broker, "ssl://") {
		// One configuration for every ssl:// broker; the publisher sets
		// each one's host name to verify.
		tc, err := upstream.TLSConfig(a.cfg.CertsPath(), a.id.DeviceID, a.cfg.Brokers()[0])
		if err != nil {
			return nil, err
		}
		o.TLS = tc
	}
	return upstream.New(o), nil
}

// listen starts the local API (and the metrics listener, if separate),
// each behind ingest.Guard: no web page in a browser on the device may use
// them, and with a local API token configured no client without it.
func (a *Agent) listen(r *running) ([]*http.Server, Addrs, error) {
	var addrs Addrs
	var token []byte
	if a.cfg.LocalTokenFile != "" {
		var err error
		if token, err = ingest.LoadLocalToken(a.cfg.LocalTokenFile); err != nil {
			return nil, addrs, err
		}
	}
	metrics, err := a.metricsHandler(r)
	if err != nil {
		return nil, addrs, err
	}
	api := ingest.NewHandler(r.pipe, control{a}, metrics, a.log)
	ln, addr, err := listenOn(a.cfg.Ingest)
	if err != nil {
		return nil, addrs, err
	}
	addrs.Ingest = addr
	srvs := []*http.Server{serve(ln, a.guard(ln, api, token))}
	if a.cfg.Metrics != "" {
		mln, maddr, err := listenOn(a.cfg.Metrics)
		if err != nil {
			srvs[0].Close()
			return nil, addrs, err
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", metrics)
		addrs.Metrics = maddr
		srvs = append(srvs, serve(mln, a.guard(mln, mux, token)))
	}
	return srvs, addrs, nil
}

// guard puts h behind ingest.Guard for listener ln: the Host check uses
// the port ln is bound to (a unix socket has none and is not checked).
func (a *Agent) guard(ln net.Listener, h http.Handler, token []byte) http.Handler {
	o := ingest.GuardOptions{Token: token, Refused: &a.apiRefused, Logger: a.log}
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok {
		o.Port = strconv.Itoa(tcp.Port)
	}
	return ingest.Guard(h, o)
}

func listenOn(spec string) (net.Listener, string, error) {
	if p, ok := strings.CutPrefix(spec, "unix:"); ok {
		os.Remove(p) // a stale socket from a crash
		ln, err := net.Listen("unix", p)
		if err != nil {
			return nil, "", fmt.Errorf("listen %s: %w", spec, err)
		}
		os.Chmod(p, 0o660)
		return ln, spec, nil
	}
	ln, err := net.Listen("tcp", spec)
	if err != nil {
		return nil, "", fmt.Errorf("listen %s: %w", spec, err)
	}
	return ln, ln.Addr().String(), nil
}

func serve(ln net.Listener, h http.Handler) *http.Server {
	s := &http.Server{Handler: h, ReadHeaderTimeout: limits.HTTPReadHeaderTimeout,
		ReadTimeout: limits.HTTPReadTimeout, WriteTimeout: limits.HTTPWriteTimeout, IdleTimeout: limits.HTTPIdleTimeout}
	go s.Serve(ln)
	return s
}

// controlTopic is the device's control topic, under the customer of its
// first license ("" while it holds none).
func (a *Agent) controlTopic() string {
	d := a.gate.Lookup(a.id.DeviceID)
	if d == nil || len(d.Licenses()) == 0 {
		return ""
	}
	return wire.ControlTopic(d.Licenses()[0].Tok.CustomerID, a.id.DeviceID)
}

// control takes in a document the server pushed to the control topic: a
// signed push of tokens and list (push.go), or a signed revocation list or
// license token, verified and stored exactly like `activate` does. An
// older list than the one held is ignored.
func (a *Agent) control(payload []byte) {
	if len(payload) > limits.MaxActivationFileBytes {
		a.log.Warn("control message too large; ignored", "bytes", len(payload))
		return
	}
	if a.controlPush(payload) {
		return
	}
	docs, err := SplitDocuments(string(payload))
	if err == nil {
		_, err = a.Activate(docs)
	}
	if err != nil {
		a.log.Warn("control message refused", "code", ErrorCode(err), "err", err)
		return
	}
	a.log.Info("control message applied", "documents", len(docs))
}

// control exposes status and activation on the local API.
type control struct{ a *Agent }

func (c control) Status() any                         { return c.a.Status() }
func (c control) Activate(docs []string) (any, error) { return c.a.Activate(docs) }
func (c control) ErrorCode(err error) string          { return ErrorCode(err) }
func (c control) Sync(ctx context.Context) (any, error) {
	return c.a.Sync(ctx)
}
