package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/tollgate-iot/tollgate/agent/internal/config"
	"github.com/tollgate-iot/tollgate/agent/internal/runtime"
	"github.com/tollgate-iot/tollgate/agent/internal/store"
	"github.com/tollgate-iot/tollgate/shared/cli"
)

func runSync(ctx context.Context, env *IO, args []string) error {
	fs := newFlagSet("sync")
	data := fs.String("data", "", "agent data directory (env TOLLGATE_DATA)")
	cfgPath := fs.String("config", "", "agent config file (env TOLLGATE_CONFIG)")
	server := fs.String("server", "", "license server URL, or several comma-separated (env TOLLGATE_SERVER; default: config, then init's --server)")
	out := cli.OutputFlag(fs)
	if err := parse(env, fs, args); err != nil {
		return err
	}
	if *data == "" || fs.NArg() > 0 {
		return cli.Usagef("sync: want --data DIR")
	}
	cfg, err := loadConfig(*data, *cfgPath)
	if err != nil {
		return errorCode(err)
	}
	overrideString(&cfg.Server, *server)
	res, err := syncOnce(ctx, env, cfg)
	if err != nil {
		return errorCode(err)
	}
	row := []string{fmt.Sprint(res.Reports), fmt.Sprint(res.Deductions), fmt.Sprint(res.Counts),
		fmt.Sprint(res.AckedSeq), fmt.Sprint(len(res.Missing)), time.Unix(res.ServerTime, 0).UTC().Format(time.RFC3339)}
	return cli.Render(env.Stdout, *out, res, []string{"REPORTS", "DEDUCTIONS", "COUNTS", "ACKED_SEQ", "MISSING_RANGES", "SERVER_TIME"},
		[][]string{row})
}

// syncOnce syncs from the data directory, or through the running agent
// when it holds the database (the running agent's server is used then).
func syncOnce(ctx context.Context, env *IO, cfg config.Config) (runtime.SyncResult, error) {
	log := env.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	a, err := runtime.Open(ctx, cfg, runtime.Options{Logger: log, Clock: env.Clock})
	if errors.Is(err, store.ErrLocked) {
		return remoteSync(ctx, cfg)
	}
	if err != nil {
		return runtime.SyncResult{}, err
	}
	res, err := a.Sync(ctx)
	return res, errors.Join(err, a.Close())
}
