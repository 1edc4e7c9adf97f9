package ctl

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate-iot/tollgate/shared/cli"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

func reportConsumptionFlags(fs *flag.FlagSet, v *vals) {
	v.str(fs, "customer", "the customer whose subtree is reported (default: your own)")
	v.str(fs, "month", "the month, YYYY-MM (UTC)")
}

// runReportConsumption prints the monthly consumption report. CSV and
// JSON are copied from the server as they stream, whatever their size;
// the table is built from the JSON report.
func runReportConsumption(ctx context.Context, x *invocation) error {
	if x.s("month") == "" {
		return cli.Usagef("report consumption: --month YYYY-MM is required")
	}
	q := url.Values{"month": {x.s("month")}}
	if c := x.s("customer"); c != "" {
		q.Set("customer", c)
	}
	if x.format == cli.CSV {
		q.Set("format", "csv")
	}
	path := "/v1/reports/consumption?" + q.Encode()
	if x.format != cli.Table {
		return x.c.stream(ctx, path, x.out)
	}
	var r wire.ConsumptionReport
	if err := x.c.Do(ctx, "GET", path, nil, &r); err != nil {
		return err
	}
	return renderConsumption(x.out, &r)
}

// stream copies the answer to a GET to w as it arrives; an error answer
// becomes *cli.Error with the server's code, as with Do.
func (c *Client) stream(ctx context.Context, path string, w io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, "GET", c.Base+path, nil)
	if err != nil {
		return cli.Errorf("invalid_argument", "%v", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.Key)
	hc := *c.HTTP
	hc.Timeout = 0 // a large report streams for as long as it takes; ctx ends it
	resp, err := hc.Do(req)
	if err != nil {
		return cli.Errorf("unavailable", "%s: %v", c.Base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
		var eb wire.ErrorBody
		if json.Unmarshal(raw, &eb) == nil && eb.Error.Code != "" {
			msg, _ := strings.CutPrefix(eb.Error.Message, strings.ReplaceAll(eb.Error.Code, "_", " ")+": ")
			return cli.Errorf(eb.Error.Code, "%s", msg)
		}
		return cli.Errorf(fmt.Sprintf("http_%d", resp.StatusCode), "GET %s: %s", path, strings.TrimSpace(string(raw)))
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return cli.Errorf("unavailable", "reading the report: %v", err)
	}
	return nil
}

var consumptionHeader = []string{"CUSTOMER", "DEVICE", "LICENSES", "MODE", "MAX/H", "BUDGET_24H", "SAMPLES", "OBSERVED", "PEAK_HOUR", "PEAK",
	"DAYS_OVER", "OVERAGE", "REFUSED", "REFUSED_BY_REASON", "DAYS_CHARGED", "DAYS_FAILED"}

// byReason is the table's "refused by reason" cell: reason=count for each
// reason with refusals, in the order of wire.RefusalReasons, then
// unknown=count for those without a reason; "-" when nothing was refused.
func byReason(r *wire.ConsumptionRefusals) string {
	var parts []string
	for _, k := range wire.RefusalReasons {
		if n := r.ByReason[k]; n > 0 {
			parts = append(parts, k+"="+strconv.FormatInt(n, 10))
		}
	}
	if r.Unknown > 0 {
		parts = append(parts, "unknown="+strconv.FormatInt(r.Unknown, 10))
	}
	return dash(strings.Join(parts, " "))
}

// renderConsumption prints one row per device, a total row per customer
// and one for the report, then a note for every device whose month
// starts before its retention (marked * in the table).
func renderConsumption(w io.Writer, r *wire.ConsumptionReport) error {
	n := func(v int64) string { return strconv.FormatInt(v, 10) }
	var rows [][]string
	var notes []string
	total := func(who string, t *wire.ConsumptionTotals) []string {
		return []string{who, fmt.Sprintf("(%d devices)", t.Devices), "", "", "", "", n(t.Samples), n(t.Observed), "", "",
			n(t.DaysOverBudget), n(t.Overage), n(t.Refused.Total), byReason(&t.Refused), n(t.DaysCharged), n(t.DaysFailed)}
	}
	for i := range r.Customers {
		c := &r.Customers[i]
		for j := range c.Devices {
			d := &c.Devices[j]
			id := d.DeviceID
			if d.RetainedFrom != nil {
				id += "*"
				notes = append(notes, fmt.Sprintf("* %s: the month starts before its licenses' retention; hours before %s may have been pruned",
					d.DeviceID, d.RetainedFrom.UTC().Format(time.RFC3339)))
			}
			serials := make([]string, len(d.Licenses))
			for k, l := range d.Licenses {
				serials[k] = l.Serial
			}
			observed := "-"
			if d.Observed != nil {
				observed = n(*d.Observed)
			}
			rate := "-"
			if d.SamplesPerHour > 0 {
				rate = n(d.SamplesPerHour)
			}
			rows = append(rows, []string{c.CustomerID, id, dash(strings.Join(serials, " ")), dash(d.Enforcement), rate, n(d.Budget24h),
				n(d.Samples), observed, day(d.PeakHour), n(d.PeakCount), strconv.Itoa(d.DaysOverBudget), n(d.Overage),
				n(d.Refused.Total), byReason(&d.Refused), n(d.DaysCharged), n(d.DaysFailed)})
		}
		rows = append(rows, total(c.CustomerID+" total", &c.Totals))
	}
	rows = append(rows, total("TOTAL "+r.Month, &r.Totals))
	if err := cli.Render(w, cli.Table, r, consumptionHeader, rows); err != nil {
		return err
	}
	for _, s := range notes {
		if _, err := fmt.Fprintln(w, s); err != nil {
			return err
		}
	}
	return nil
}
