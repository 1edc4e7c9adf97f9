package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/tollgate-iot/tollgate/firmware-sim/internal/drive"
	"github.com/tollgate-iot/tollgate/firmware-sim/internal/fleet"
	"github.com/tollgate-iot/tollgate/firmware-sim/internal/limits"
	"github.com/tollgate-iot/tollgate/firmware-sim/internal/localbroker"
	"github.com/tollgate-iot/tollgate/firmware-sim/internal/pattern"
	"github.com/tollgate-iot/tollgate/firmware-sim/internal/report"
	"github.com/tollgate-iot/tollgate/firmware-sim/internal/simclock"
	"github.com/tollgate-iot/tollgate/shared/cli"
	"github.com/tollgate-iot/tollgate/shared/clock"
)

// IO is what main hands the command.
type IO struct {
	Stdout, Stderr io.Writer
	// Clock is the real clock (tests may pass another).
	Clock clock.Clock
	// Terminal reports whether Stderr is a terminal: the progress line is
	// then rewritten in place.
	Terminal bool
}

// synopsis is the command line's shape, printed with -h and under a
// usage error.
const synopsis = `usage: firmware-sim (--agent URL | --data DIR)... [flags]
       firmware-sim --local-broker 127.0.0.1:PORT [--local-broker-dir DIR]
`

const usageText = synopsis + `

Simulated devices and gateways sending telemetry through real tollgate-agents.
Each agent is asked for the devices it serves (GET /v1/status): a device's own
agent gets that device's samples; a gateway's agent gets its children's,
posted to its ingest API with their device_id, or, with --bridge, published to
the gateway's local MQTT broker (tollgate/local/CHILD/samples), which the
agent's bridge reads. At the end it waits for the agents to account for and
deliver every sample and prints the story per device (-o json: one document).

--local-broker runs a gateway's local MQTT broker (loopback, no auth) until
interrupted, for gateways without one (the demo): give its URL to
"tollgate-agent run --bridge" and to firmware-sim --bridge.

flags:
`

// Main runs firmware-sim with args (without the program name) and returns
// the exit status.
// A usage error prints its one line and the synopsis on stderr (exit 2);
// -h prints the help on stdout (exit 0).
func Main(ctx context.Context, env IO, args []string) int {
	code := cli.Report(env.Stderr, run(ctx, env, args))
	if code == cli.ExitUsage {
		fmt.Fprint(env.Stderr, synopsis)
	}
	return code
}

type targetFlag struct {
	kind string // "agent" or "data"
	v    *[]targetArg
}

type targetArg struct{ kind, value string }

func (f targetFlag) String() string { return "" }

func (f targetFlag) Set(s string) error {
	if len(s) > limits.MaxArgBytes || s == "" {
		return fmt.Errorf("want a value of 1 to %d bytes", limits.MaxArgBytes)
	}
	if len(*f.v) >= limits.MaxTargets {
		return fmt.Errorf("at most %d agents", limits.MaxTargets)
	}
	*f.v = append(*f.v, targetArg{f.kind, s})
	return nil
}

func parse(env IO, args []string) (*Config, []targetArg, error) {
	fs := flag.NewFlagSet("firmware-sim", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported once, by Main
	fs.Usage = func() {}
	var targets []targetArg
	c := &Config{}
	fs.Var(targetFlag{"agent", &targets}, "agent", "an agent's local API: http://127.0.0.1:PORT or unix:PATH (repeatable)")
	fs.Var(targetFlag{"data", &targets}, "data", "a running agent's data directory; its API address is read from DIR/agent.addr (repeatable)")
	fs.Var(list{&c.Bridges}, "bridge", "tcp://HOST:PORT of a gateway's local broker: children publish there; the i-th --bridge serves the i-th gateway (repeatable)")
	fs.IntVar(&c.Devices, "devices", 0, "drive exactly N devices, the first N the agents serve in order (default: all)")
	c.Gateways = -1
	fs.Var(allOrCount{&c.Gateways}, "gateways", "drive the children of the first `G` gateway agents only (default: all)")
	fs.IntVar(&c.Rate, "rate", DefaultRate, "average samples per simulated hour per device")
	pat := fs.String("pattern", "steady", "steady | shift8h (8 h a day at 3× the rate) | burst (every 4 h, 4× the rate in one minute)")
	dur := fs.String("duration", "1d", "simulated time to run: 3d, 2d12h, 90m")
	fs.Float64Var(&c.Speed, "clock-speed", 1, "run the clock this many times faster than real time; give the agents the same")
	origin := fs.String("clock-origin", "", "RFC 3339 time from which --clock-speed counts, the agents' --clock-origin (default: now)")
	fs.DurationVar(&c.Tick, "tick", limits.DefaultTick, "real time between two rounds of samples")
	quiet := fs.Bool("quiet", false, "no progress line on stderr")
	out := cli.OutputFlag(fs)
	fs.StringVar(&c.LocalBroker, "local-broker", "", "run a gateway's local MQTT broker on 127.0.0.1:PORT (0: any) until interrupted")
	fs.StringVar(&c.LocalBrokerDir, "local-broker-dir", "", "the local broker's session store (default: a temporary directory)")
	fs.StringVar(&c.AgentTokenFile, "agent-token-file", os.Getenv("TOLLGATE_LOCAL_TOKEN_FILE"), "file holding the agents' local API token, sent as Authorization: Bearer (env TOLLGATE_LOCAL_TOKEN_FILE)")
	if err := cli.Parse(fs, args, nil); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(env.Stdout, usageText)
			fs.SetOutput(env.Stdout)
			fs.PrintDefaults()
		}
		return nil, nil, err
	}
	if fs.NArg() > 0 {
		return nil, nil, cli.Usagef("unexpected argument %q", fs.Arg(0))
	}
	now := clock.OrReal(env.Clock).Now()
	var errs []error
	k, err := pattern.Parse(*pat)
	if err != nil {
		errs = append(errs, fmt.Errorf("--pattern: %w", err))
	}
	c.Pattern = k
	if c.Duration, err = ParseDuration(*dur); err != nil {
		errs = append(errs, fmt.Errorf("--duration: %w", err))
	}
	c.Origin = now
	if *origin != "" {
		if len(*origin) > limits.MaxTimeArgBytes {
			errs = append(errs, fmt.Errorf("--clock-origin: %d bytes", len(*origin)))
		} else if c.Origin, err = time.Parse(time.RFC3339, *origin); err != nil {
			errs = append(errs, fmt.Errorf("--clock-origin: want RFC 3339: %v", err))
		}
	}
	if len(errs) > 0 {
		return nil, nil, cli.Usagef("%v", errors.Join(errs...))
	}
	c.Progress, c.Output = !*quiet, *out
	for _, t := range targets {
		if t.kind == "agent" {
			c.Agents = append(c.Agents, t.value)
		} else {
			c.Data = append(c.Data, t.value)
		}
	}
	if err := c.Validate(now); err != nil {
		return nil, nil, err
	}
	return c, targets, nil
}

func run(ctx context.Context, env IO, args []string) error {
	c, targets, err := parse(env, args)
	if err != nil {
		return err
	}
	if c.LocalBroker != "" {
		return serveLocalBroker(ctx, env, c)
	}
	agents, err := discover(ctx, c, targets)
	if err != nil {
		return err
	}
	return drive_(ctx, env, c, agents)
}

// discover finds the agents and the devices to drive.
func discover(ctx context.Context, c *Config, targets []targetArg) ([]*drive.Agent, error) {
	var agents []*drive.Agent
	gateways := 0
	token := ""
	if c.AgentTokenFile != "" {
		var err error
		if token, err = fleet.ReadTokenFile(c.AgentTokenFile); err != nil {
			return nil, codeOf(err)
		}
	}
	for _, ta := range targets {
		var t *fleet.Target
		var err error
		if ta.kind == "agent" {
			t, err = fleet.FromURL(ta.value)
		} else {
			t, err = fleet.FromData(ta.value)
		}
		if err != nil {
			return nil, codeOf(err)
		}
		if token != "" {
			t.UseToken(token)
		}
		a := &drive.Agent{Target: t}
		if err := drive.Snapshot(ctx, []*drive.Agent{a}); err != nil {
			return nil, codeOf(err)
		}
		if a.Before.Gateway() {
			if c.Gateways >= 0 && gateways >= c.Gateways {
				continue
			}
			if len(c.Bridges) > 0 && gateways < len(c.Bridges) {
				a.Bridge = c.Bridges[gateways]
			}
			gateways++
			via := drive.ViaHTTP
			if a.Bridge != "" {
				via = drive.ViaBridge
			}
			for _, ch := range a.Before.Children {
				a.Devices = append(a.Devices, drive.NewDevice(ch.DeviceID, via))
			}
		} else {
			a.Devices = []*drive.Device{drive.NewDevice(a.Before.DeviceID, drive.ViaHTTP)}
		}
		agents = append(agents, a)
	}
	if c.Gateways > gateways {
		return nil, cli.Errorf("fleet_too_small", "--gateways %d, but the agents include %d gateways", c.Gateways, gateways)
	}
	if len(c.Bridges) > 0 && len(c.Bridges) != gateways {
		return nil, cli.Usagef("%d --bridge for %d gateways: give one local broker per gateway, in the order of the gateways, or none (children then post over HTTP)", len(c.Bridges), gateways)
	}
	total := 0
	for _, a := range agents {
		total += len(a.Devices)
	}
	if c.Devices > total {
		return nil, cli.Errorf("fleet_too_small", "--devices %d, but the agents serve %d devices", c.Devices, total)
	}
	if c.Devices > 0 {
		left := c.Devices
		kept := agents[:0]
		for _, a := range agents {
			if left == 0 {
				break
			}
			if len(a.Devices) > left {
				a.Devices = a.Devices[:left]
			}
			left -= len(a.Devices)
			kept = append(kept, a)
		}
		agents = kept
	}
	if total > limits.MaxDevices {
		return nil, cli.Errorf("fleet_too_large", "the agents serve %d devices, at most %d per run (use --devices)", total, limits.MaxDevices)
	}
	return agents, nil
}

func drive_(ctx context.Context, env IO, c *Config, agents []*drive.Agent) error {
	wall := clock.OrReal(env.Clock)
	sim := simclock.Scaled{Real: wall, Origin: c.Origin, Speed: c.Speed}
	o := drive.Options{
		Pattern: pattern.Pattern{Kind: c.Pattern, Rate: c.Rate}, Sim: sim, Wall: wall, Tick: c.Tick,
		ClientID: "firmware-sim-" + strconv.Itoa(os.Getpid()),
	}
	if err := drive.Connect(ctx, o, agents); err != nil {
		drive.Close(agents)
		return codeOf(err)
	}
	defer drive.Close(agents)
	// Fresh statuses: the bridge probes and other traffic may have moved
	// the counts since discovery.
	if err := drive.Snapshot(ctx, agents); err != nil {
		return codeOf(err)
	}
	o.From = sim.Now()
	o.To = o.From.Add(c.Duration)
	if c.Progress {
		o.Progress, o.ProgressEvery = progressPrinter(env, o.From, o.To, wall), time.Second
		if env.Terminal {
			o.ProgressEvery = 250 * time.Millisecond
		}
	}
	start := wall.Now()
	err := drive.Run(ctx, o, agents)
	elapsed := wall.Now().Sub(start)
	if err != nil && ctx.Err() == nil {
		return codeOf(err)
	}
	if ctx.Err() != nil {
		// Interrupted: print the story so far, as the agents tell it now.
		sctx, cancel := context.WithTimeout(context.Background(), limits.InterruptSettle)
		defer cancel()
		drive.Settle(sctx, wall, agents, 0, 0)
		to := sim.Now()
		if to.After(o.To) {
			to = o.To
		}
		s := report.Build(report.Run{Pattern: c.Pattern.String(), Rate: c.Rate, Speed: c.Speed, From: o.From, To: to, Wall: elapsed}, agents)
		report.Render(env.Stdout, c.Output, s)
		return cli.Errorf("interrupted", "stopped after %v of real time; the counts above are what was answered so far", elapsed.Round(time.Millisecond))
	}
	drain, err := drive.Settle(ctx, wall, agents, limits.DrainTimeout, limits.DrainStall)
	if err != nil {
		return codeOf(err)
	}
	s := report.Build(report.Run{Pattern: c.Pattern.String(), Rate: c.Rate, Speed: c.Speed, From: o.From, To: o.To, Wall: elapsed, Drain: drain}, agents)
	return report.Render(env.Stdout, c.Output, s)
}

// progressPrinter returns the live progress line: rewritten in place on a
// terminal, one line per report otherwise.
func progressPrinter(env IO, from, to time.Time, wall clock.Clock) func(drive.Progress) {
	start := wall.Now()
	return func(p drive.Progress) {
		secs := wall.Now().Sub(start).Seconds()
		rate := 0.0
		if secs > 0 {
			rate = float64(p.Sent) / secs
		}
		unit, per := "day", 24.0
		if to.Sub(from) < 48*time.Hour {
			unit, per = "hour", 1
		}
		line := fmt.Sprintf("sim %s  %s %.1f of %.1f  sent %d  accepted %d  refused %d",
			p.Sim.UTC().Format("2006-01-02 15:04"), unit, p.Sim.Sub(from).Hours()/per, to.Sub(from).Hours()/per, p.Sent, p.Accepted, p.Refused)
		if p.Bridged > 0 {
			line += fmt.Sprintf("  (via bridges %d)", p.Bridged)
		}
		line += fmt.Sprintf("  %.0f samples/s", rate)
		if env.Terminal {
			fmt.Fprintf(env.Stderr, "\r%-110s", line)
			if p.Final {
				fmt.Fprintln(env.Stderr)
			}
			return
		}
		fmt.Fprintln(env.Stderr, line)
	}
}

// codeOf names an error for `error: CODE: message`.
func codeOf(err error) error {
	var ce *cli.Error
	if errors.As(err, &ce) {
		return err
	}
	for _, m := range []struct {
		err  error
		code string
	}{
		{fleet.ErrNotRunning, "not_running"},
		{fleet.ErrAgentURL, "agent_address"},
		{fleet.ErrStatus, "agent_status"},
		{fleet.ErrToken, "agent_token"},
		{drive.ErrAgent, "agent_ingest"},
		{drive.ErrBridge, "local_broker"},
		{localbroker.ErrAddr, "local_broker"},
		{localbroker.ErrStart, "local_broker"},
	} {
		if errors.Is(err, m.err) {
			return &cli.Error{Code: m.code, Err: err}
		}
	}
	return err
}

// serveLocalBroker runs a gateway's local broker until interrupted.
func serveLocalBroker(ctx context.Context, env IO, c *Config) error {
	dir := c.LocalBrokerDir
	if dir == "" {
		d, err := os.MkdirTemp("", "firmware-sim-broker")
		if err != nil {
			return cli.Errorf("local_broker", "%v", err)
		}
		defer os.RemoveAll(d)
		dir = d
	}
	b, err := localbroker.Start(c.LocalBroker, dir)
	if err != nil {
		var ae error = err
		if errors.Is(err, localbroker.ErrAddr) {
			return cli.Usagef("--local-broker: %v", ae)
		}
		return codeOf(err)
	}
	defer b.Close()
	fmt.Fprintf(env.Stdout, "local broker listening on %s\n", b.URL())
	if f, ok := env.Stdout.(interface{ Sync() error }); ok {
		f.Sync()
	}
	<-ctx.Done()
	return nil
}

// NotifyContext is signal.NotifyContext for SIGINT and SIGTERM.
func NotifyContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
}
