package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"time"

	"github.com/tollgate-iot/tollgate/agent/internal/config"
	"github.com/tollgate-iot/tollgate/agent/internal/effclock"
	"github.com/tollgate-iot/tollgate/agent/internal/limits"
	"github.com/tollgate-iot/tollgate/agent/internal/runtime"
	"github.com/tollgate-iot/tollgate/shared/cli"
	"github.com/tollgate-iot/tollgate/shared/clock"
)

func runRun(ctx context.Context, env *IO, args []string) error {
	cfg, wall, err := runConfig(env, args)
	if err != nil {
		return err
	}
	if wall != nil {
		env.Clock = wall
	}
	if os.Getenv("GOMEMLIMIT") == "" && cfg.MemoryLimitMiB > 0 {
		debug.SetMemoryLimit(int64(cfg.MemoryLimitMiB) << 20)
	}
	log := env.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: level(cfg.LogLevel)}))
	}
	a, err := runtime.Open(ctx, cfg, runtime.Options{Logger: log, Clock: env.Clock})
	if err != nil {
		return errorCode(err)
	}
	err = a.Run(ctx, func(ad runtime.Addrs) {
		fmt.Fprintf(env.Stdout, "ingest listening on %s\n", ad.Ingest)
		if ad.Metrics != "" {
			fmt.Fprintf(env.Stdout, "metrics listening on %s\n", ad.Metrics)
		}
	})
	return errorCode(errors.Join(err, a.Close()))
}

// runConfig parses run's flags over env over the config file over the
// defaults, and returns the simulation clock if one was asked for.
func runConfig(env *IO, args []string) (config.Config, clock.Clock, error) {
	fs := newFlagSet("run")
	data := fs.String("data", "", "agent data directory (env TOLLGATE_DATA)")
	cfgPath := fs.String("config", "", "JSON config file; flags and env override it (env TOLLGATE_CONFIG)")
	broker := fs.String("broker", "", "upstream MQTT broker tcp://HOST:PORT or ssl://HOST:PORT, or several comma-separated (a broker cluster; the next is tried when one is down) (env TOLLGATE_BROKER)")
	server := fs.String("server", "", "license server URL, or several comma-separated (replicas; the next is tried when one is down) (env TOLLGATE_SERVER)")
	ingestAddr := fs.String("ingest", "", "local API: 127.0.0.1:PORT or unix:PATH (env TOLLGATE_INGEST; default 127.0.0.1:7780)")
	bridgeURL := fs.String("bridge", "", "gateway bridge mode: local MQTT broker tcp://HOST:PORT child devices publish to (env TOLLGATE_BRIDGE)")
	certsDir := fs.String("certs", "", "directory with ca.crt and device-ID.crt/.key for ssl:// brokers (env TOLLGATE_CERTS; default DATA/certs)")
	metricsAddr := fs.String("metrics", "", "separate loopback address for /metrics (env TOLLGATE_METRICS)")
	tokenFile := fs.String("local-token-file", "", "file holding the local API token every client must send as Authorization: Bearer (env "+envLocalTokenFile+")")
	queueMax := fs.Int("queue-max", 0, "outbox bound in samples (default 100000)")
	speed := fs.Float64("clock-speed", 1, "simulation only: run the wall clock this many times faster")
	origin := fs.String("clock-origin", "", "simulation only: RFC 3339 time from which --clock-speed counts (keeps time continuous across restarts)")
	cfg := config.Default()
	if err := parse(env, fs, args); err != nil {
		return cfg, nil, err
	}
	if *data == "" || fs.NArg() > 0 {
		return cfg, nil, cli.Usagef("run: want --data DIR")
	}
	if *cfgPath != "" {
		if err := cfg.LoadFile(*cfgPath); err != nil {
			return cfg, nil, errorCode(err)
		}
	}
	cfg.Data = *data
	overrideString(&cfg.Broker, *broker)
	overrideString(&cfg.Server, *server)
	overrideString(&cfg.Ingest, *ingestAddr)
	overrideString(&cfg.Metrics, *metricsAddr)
	overrideString(&cfg.LocalTokenFile, *tokenFile)
	overrideString(&cfg.Bridge, *bridgeURL)
	overrideString(&cfg.CertsDir, *certsDir)
	if *queueMax != 0 {
		cfg.QueueMax = *queueMax
	}
	if err := cfg.Validate(); err != nil {
		return cfg, nil, errorCode(err)
	}
	if *speed == 1 {
		return cfg, nil, nil
	}
	wall, err := scaledClock(*speed, *origin)
	return cfg, wall, err
}

func overrideString(dst *string, v string) {
	if v != "" {
		*dst = v
	}
}

func level(s string) slog.Level {
	var l slog.Level
	l.UnmarshalText([]byte(s))
	return l
}

// scaledClock builds the simulation clock of --clock-speed/--clock-origin.
func scaledClock(speed float64, origin string) (effclock.Scaled, error) {
	if speed < 1 || speed > limits.MaxClockSpeed {
		return effclock.Scaled{}, cli.Usagef("run: --clock-speed must be in 1..%d", limits.MaxClockSpeed)
	}
	o, err := time.Parse(time.RFC3339, origin)
	if err != nil {
		return effclock.Scaled{}, cli.Usagef("run: --clock-speed needs --clock-origin as RFC 3339: %v", err)
	}
	return effclock.Scaled{Origin: o, Speed: speed}, nil
}
