package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"

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
	return renderStatus(env.Stdout, *out, st)
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

// statusHeader is the license table of `status`.
var statusHeader = []string{"DEVICE_ID", "LICENSE", "STATUS", "EXPIRES", "DAYS", "USED_24H", "LIMIT_24H"}

// renderStatus prints the status: the whole document for json, the
// license table for csv, and for table the license table followed by the
// refusals and the queue, each a table of its own so that every column
// holds one kind of value.
func renderStatus(w io.Writer, out cli.Format, st runtime.Status) error {
	if err := cli.Render(w, out, st, statusHeader, statusRows(st)); err != nil || out != cli.Table {
		return err
	}
	reasons := slices.Sorted(maps.Keys(st.Refused))
	if len(reasons) > 0 {
		rows := make([][]string, 0, len(reasons))
		for _, r := range reasons {
			rows = append(rows, []string{r, fmt.Sprint(st.Refused[r])})
		}
		fmt.Fprintln(w)
		if err := cli.Render(w, out, nil, []string{"REFUSED", "SAMPLES"}, rows); err != nil {
			return err
		}
	}
	fmt.Fprintln(w)
	if err := cli.Render(w, out, nil, []string{"QUEUE_DEPTH", "DROPPED", "MAX"},
		[][]string{{fmt.Sprint(st.Queue.Depth), fmt.Sprint(st.Queue.Dropped), fmt.Sprint(st.Queue.Max)}}); err != nil || st.Upstream == nil {
		return err
	}
	up := st.Upstream
	fmt.Fprintln(w)
	return cli.Render(w, out, nil, []string{"BROKER", "CONNECTED", "SERVER"},
		[][]string{{first(up.Broker, "-"), fmt.Sprint(up.Connected), first(up.Server, "-")}})
}

// statusRows are the license table: a row per license of each device (a
// device without one has a no_license row). A day license's EXPIRES is
// the end of the day it paid for, "-" when none is paid: the token's own
// window (years away) is not when the device stops.
func statusRows(st runtime.Status) [][]string {
	var rows [][]string
	devs := append([]runtime.DeviceStatus{st.DeviceStatus}, st.Children...)
	for _, d := range devs {
		state := ""
		if d.Blacklisted {
			state = "blacklisted"
		}
		used, limit := fmt.Sprint(d.Budget.Used24h), fmt.Sprint(d.Budget.Limit24h)
		if len(d.Licenses) == 0 {
			rows = append(rows, []string{d.DeviceID, "-", first(state, "no_license"), "-", "-", used, limit})
		}
		for _, l := range d.Licenses {
			days, expires := "-", l.Expires
			if l.AvailableDays != nil {
				days, expires = fmt.Sprint(*l.AvailableDays), first(l.PaidUntil, "-")
				if l.Status != "active" {
					expires = "-"
				}
			}
			rows = append(rows, []string{d.DeviceID, l.ID, first(state, l.Status), expires, days, used, limit})
		}
	}
	if st.Tamper {
		rows = append(rows, []string{st.DeviceID, "-", "clock_tamper", "-", "-", "-", "-"})
	}
	return rows
}

func first(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
