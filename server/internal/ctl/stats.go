package ctl

import (
	"context"
	"encoding/csv"
	"flag"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tollgate-iot/tollgate/shared/cli"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// runStats prints GET /v1/stats: as JSON the server's document; as a table
// one section per figure; as CSV one row per figure value under
// statsCSVHeader (docs/reports.md#statistics).
func runStats(ctx context.Context, x *invocation) error {
	path := "/v1/stats"
	if c := x.s("customer"); c != "" {
		path += "?" + url.Values{"customer": {c}}.Encode()
	}
	var st wire.Stats
	if err := x.c.Do(ctx, "GET", path, nil, &st); err != nil {
		return err
	}
	switch x.format {
	case cli.JSON:
		return cli.Render(x.out, x.format, st, nil, nil)
	case cli.CSV:
		cw := csv.NewWriter(x.out)
		if err := cw.Write(statsCSVHeader); err != nil {
			return err
		}
		if err := cw.WriteAll(statsCSVRows(&st)); err != nil {
			return err
		}
		return cw.Error()
	}
	return statsTable(x.out, &st)
}

func statsFlags(fs *flag.FlagSet, v *vals) {
	v.str(fs, "customer", "the customer whose subtree is counted (default: your own)")
}

// statsCSVHeader names the CSV columns; a row fills the columns its figure
// has and leaves the others empty.
var statsCSVHeader = []string{"figure", "type", "billing", "models", "max_samples_per_hour", "status",
	"serial", "customer", "days_left", "end", "count"}

// statsStatuses are the kind columns, in the order the ledger names them.
var statsStatuses = []string{"unused", "inactive", "pending_start", "active", "deactivated", "expired",
	"suspended", "revoked", "transferred"}

func kindCounts(k *wire.StatsKind) []int64 {
	return []int64{k.Unused, k.Inactive, k.PendingStart, k.Active, k.Deactivated, k.Expired, k.Suspended,
		k.Revoked, k.Transferred}
}

func statsCSVRows(st *wire.Stats) [][]string {
	n := func(v int64) string { return strconv.FormatInt(v, 10) }
	var rows [][]string
	row := func(figure string, cols map[int]string, count string) {
		r := make([]string, len(statsCSVHeader))
		r[0], r[len(r)-1] = figure, count
		for i, v := range cols {
			r[i] = v
		}
		rows = append(rows, r)
	}
	for _, k := range sortedKeys(st.ByType) {
		row("by_type", map[int]string{1: k}, n(st.ByType[k]))
	}
	for _, k := range sortedKeys(st.ByBilling) {
		row("by_billing", map[int]string{2: k}, n(st.ByBilling[k]))
	}
	for _, k := range sortedKeys(st.ByStatus) {
		row("by_status", map[int]string{5: k}, n(st.ByStatus[k]))
	}
	for i := range st.Kinds {
		k := &st.Kinds[i]
		cols := map[int]string{1: k.Type, 2: k.Billing, 3: strings.Join(k.Models, ","), 4: n(k.MaxSamplesPerHour)}
		for j, c := range kindCounts(k) {
			cols[5] = statsStatuses[j]
			row("kind", cols, n(c))
		}
		cols[5] = "total"
		row("kind", cols, n(k.Total))
	}
	row("days_left_under_30", nil, n(st.DaysLeft.Under30))
	row("days_left_under_7", nil, n(st.DaysLeft.Under7))
	for _, l := range st.DaysLeft.Licenses {
		row("days_left", map[int]string{2: l.Billing, 6: l.Serial, 7: l.CustomerID, 8: n(l.DaysLeft), 9: l.End.UTC().Format(time.RFC3339)}, "1")
	}
	row("devices_blacklisted", nil, n(st.Devices.Blacklisted))
	row("devices_offline", nil, n(st.Devices.Offline))
	return rows
}

func statsTable(w io.Writer, st *wire.Stats) error {
	n := func(v int64) string { return strconv.FormatInt(v, 10) }
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	line := func(cols ...string) { fmt.Fprintln(tw, strings.Join(cols, "\t")) }
	line("CUSTOMER", st.CustomerID, "AT", st.At.UTC().Format(time.RFC3339))
	line()
	line("BY", "VALUE", "LICENSES")
	for _, g := range []struct {
		by string
		m  map[string]int64
	}{{"type", st.ByType}, {"billing", st.ByBilling}, {"status", st.ByStatus}} {
		for _, k := range sortedKeys(g.m) {
			line(g.by, k, n(g.m[k]))
		}
	}
	line()
	head := []string{"TYPE", "BILLING", "MODELS", "MAX/H"}
	for _, s := range statsStatuses {
		head = append(head, strings.ToUpper(s))
	}
	line(append(head, "TOTAL")...)
	for i := range st.Kinds {
		k := &st.Kinds[i]
		r := []string{k.Type, k.Billing, strings.Join(k.Models, ","), n(k.MaxSamplesPerHour)}
		for _, c := range kindCounts(k) {
			r = append(r, n(c))
		}
		line(append(r, n(k.Total))...)
	}
	line()
	line("DAYS LEFT", "UNDER 30", n(st.DaysLeft.Under30), "UNDER 7", n(st.DaysLeft.Under7))
	if len(st.DaysLeft.Licenses) > 0 {
		line("SERIAL", "CUSTOMER", "BILLING", "DAYS_LEFT", "END")
		for _, l := range st.DaysLeft.Licenses {
			line(l.Serial, l.CustomerID, l.Billing, n(l.DaysLeft), l.End.UTC().Format(time.RFC3339))
		}
	}
	if st.DaysLeft.Truncated {
		line(fmt.Sprintf("(the list stops at %d licenses; the counts are complete)", wire.StatsMaxListed))
	}
	line()
	line("DEVICES", "BLACKLISTED", n(st.Devices.Blacklisted), "OFFLINE", n(st.Devices.Offline))
	return tw.Flush()
}

func sortedKeys(m map[string]int64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
