package ctl

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"strconv"

	"github.com/tollgate-iot/tollgate/shared/cli"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

func runDeviceTelemetry(ctx context.Context, x *invocation) error {
	var v wire.DeviceTelemetry
	if err := x.c.Do(ctx, "GET", "/v1/devices/"+esc(x.args[0])+"/telemetry?"+windowQuery(x).Encode(), nil, &v); err != nil {
		return err
	}
	clockNote(x, v.Clock)
	if v.Compared == "totals" {
		n := func(v int64) string { return strconv.FormatInt(v, 10) }
		return cli.Render(x.out, x.format, v, telemetryTotalsHeader,
			[][]string{{day(&v.From), day(&v.To), n(v.Observed), n(v.ReportedAccepted), n(v.Excess)}})
	}
	rows := make([][]string, len(v.Hours))
	for i := range v.Hours {
		rows[i] = telemetryRow(&v.Hours[i])
	}
	return cli.Render(x.out, x.format, v, telemetryHeader, rows)
}

// telemetryTotalsHeader is the table of a device whose clock is off:
// one row of totals on the server's clock.
var telemetryTotalsHeader = []string{"FROM", "TO", "OBSERVED", "REPORTED_ACCEPTED_RECEIVED", "EXCESS"}

// clockNote prints, above a table, the server's note on a device whose
// clock is off.
func clockNote(x *invocation, c *wire.DeviceClock) {
	if x.format == cli.Table && c != nil && c.Note != "" {
		fmt.Fprintf(x.out, "note: %s\n", c.Note)
	}
}

func runDeviceDiscrepancies(ctx context.Context, x *invocation) error {
	q := windowQuery(x)
	if c := x.s("customer"); c != "" {
		q.Set("customer", c)
	}
	if n := x.n("min-excess"); n != 0 {
		q.Set("min_excess", strconv.FormatInt(n, 10))
	}
	if n := x.n("limit"); n != 0 {
		q.Set("limit", strconv.FormatInt(n, 10))
	}
	var l wire.TelemetryDiscrepancyList
	if err := x.c.Do(ctx, "GET", "/v1/telemetry/discrepancies?"+q.Encode(), nil, &l); err != nil {
		return err
	}
	if !l.Complete && x.format == cli.Table {
		x.errw.Write([]byte("note: the window held more observed hours than one listing walks; narrow --from/--to\n"))
	}
	rows := make([][]string, len(l.Devices))
	for i := range l.Devices {
		rows[i] = discrepancyRow(&l.Devices[i])
	}
	return cli.Render(x.out, x.format, l, discrepancyHeader, rows)
}

func deviceDiscrepanciesFlags(fs *flag.FlagSet, v *vals) {
	windowFlags(fs, v)
	v.str(fs, "customer", "the customer whose subtree is listed (default: your own)")
	v.num(fs, "min-excess", "smallest excess listed (default 1)")
	v.num(fs, "limit", "most devices listed (1..1000, default 100)")
}

func windowFlags(fs *flag.FlagSet, v *vals) {
	v.str(fs, "from", "window start, RFC 3339 or YYYY-MM-DD (default: 7 days before --to)")
	v.str(fs, "to", "window end, RFC 3339 or YYYY-MM-DD (default: now)")
	v.str(fs, "within", "window ending now, e.g. 24h or 7d (instead of --from/--to)")
}

func windowQuery(x *invocation) url.Values {
	q := url.Values{}
	for _, f := range []string{"from", "to", "within"} {
		if s := x.s(f); s != "" {
			q.Set(f, s)
		}
	}
	return q
}

var telemetryHeader = []string{"HOUR", "OBSERVED", "REPORTED_ACCEPTED", "REPORTED_OVERAGE", "DIFFERENCE", "SETTLED"}

func telemetryRow(h *wire.TelemetryHour) []string {
	n := func(v int64) string { return strconv.FormatInt(v, 10) }
	return []string{day(&h.Hour), n(h.Observed), n(h.ReportedAccepted), n(h.ReportedOverage), n(h.Difference), strconv.FormatBool(h.Settled)}
}

var discrepancyHeader = []string{"DEVICE", "CUSTOMER", "OBSERVED", "REPORTED_ACCEPTED", "EXCESS", "HOURS", "SETTLED_BEFORE", "COMPARED"}

func discrepancyRow(d *wire.TelemetryDiscrepancy) []string {
	n := func(v int64) string { return strconv.FormatInt(v, 10) }
	return []string{d.DeviceID, d.CustomerID, n(d.Observed), n(d.ReportedAccepted), n(d.Excess), strconv.Itoa(d.Hours), day(d.SettledBefore), d.Compared}
}
