package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"

	"github.com/tollgate-iot/tollgate/agent/internal/config"
	"github.com/tollgate-iot/tollgate/agent/internal/runtime"
	"github.com/tollgate-iot/tollgate/agent/internal/store"
	"github.com/tollgate-iot/tollgate/shared/cli"
)

type configT = config.Config

func loadConfig(data, path string) (config.Config, error) {
	c := baseConfig(data)
	if path != "" {
		if err := c.LoadFile(path); err != nil {
			return c, err
		}
		c.Data = data
	}
	// The commands that talk to a running agent send its local API token.
	overrideString(&c.LocalTokenFile, os.Getenv(envLocalTokenFile))
	return c, nil
}

func runStatus(ctx context.Context, env *IO, args []string) error {
	fs := newFlagSet("status")
	data := fs.String("data", "", "agent data directory (env TOLLGATE_DATA)")
	cfgPath := fs.String("config", "", "agent config file (env TOLLGATE_CONFIG)")
	out := cli.OutputFlag(fs)
	if err := parse(env, fs, args); err != nil {
		return err
	}
	if *data == "" || fs.NArg() > 0 {
		return cli.Usagef("status: want --data DIR")
	}
	cfg, err := loadConfig(*data, *cfgPath)
	if err != nil {
		return errorCode(err)
	}
	st, err := status(ctx, env, cfg)
	if err != nil {
		return errorCode(err)
	}
	return cli.Render(env.Stdout, *out, st, []string{"DEVICE_ID", "LICENSE", "STATUS", "EXPIRES", "DAYS", "USED_24H", "LIMIT_24H"}, statusRows(st))
}

// status reads the data directory, or asks the running agent.
func status(ctx context.Context, env *IO, cfg config.Config) (runtime.Status, error) {
	a, err := runtime.Open(ctx, cfg, runtime.Options{Logger: env.Logger, Clock: env.Clock})
	if errors.Is(err, store.ErrLocked) {
		return remoteStatus(ctx, cfg)
	}
	if err != nil {
		return runtime.Status{}, err
	}
	st := a.Status()
	return st, a.Close()
}

func statusRows(st runtime.Status) [][]string {
	var rows [][]string
	devs := append([]runtime.DeviceStatus{st.DeviceStatus}, st.Children...)
	for _, d := range devs {
		state := ""
		if d.Blacklisted {
			state = "blacklisted"
		}
		if len(d.Licenses) == 0 {
			rows = append(rows, []string{d.DeviceID, "-", first(state, "no_license"), "-", "-", fmt.Sprint(d.Budget.Used24h), fmt.Sprint(d.Budget.Limit24h)})
		}
		for _, l := range d.Licenses {
			days := "-"
			if l.AvailableDays != nil {
				days = fmt.Sprint(*l.AvailableDays)
			}
			rows = append(rows, []string{d.DeviceID, l.ID, first(state, l.Status), l.Expires, days, fmt.Sprint(d.Budget.Used24h), fmt.Sprint(d.Budget.Limit24h)})
		}
	}
	if st.Tamper {
		rows = append(rows, []string{st.DeviceID, "-", "clock_tamper", "-", "-", "-", "-"})
	}
	reasons := make([]string, 0, len(st.Refused))
	for r := range st.Refused {
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	for _, r := range reasons {
		rows = append(rows, []string{"refused", r, fmt.Sprint(st.Refused[r]), "", "", "", ""})
	}
	rows = append(rows, []string{"queue", fmt.Sprintf("depth=%d", st.Queue.Depth), fmt.Sprintf("dropped=%d", st.Queue.Dropped), "", "", "", ""})
	return rows
}

func first(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
