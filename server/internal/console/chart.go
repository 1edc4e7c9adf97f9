package console

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/api"
	"github.com/tollgate-iot/tollgate/server/internal/ledger"
)

// The device page's chart: every hour of the last 24 hours or 7 days
// (?range=7d), the samples the device reported for it beside the
// telemetry messages the broker observed (the ledger's DeviceTelemetry
// view, as GET /v1/devices/{id}/telemetry), against a line at the
// device's licensed rate (the rate the monthly consumption report gives
// the device: ledger.ConsumptionReport's SamplesPerHour).

// Chart ranges: the query value and the hours it shows.
var chartRanges = map[string]int{"24h": 24, "7d": 7 * 24}

// The chart's view box: chartWidth wide, bars from chartBase up to at
// most chartTop.
const (
	chartWidth  = 480.0
	chartTop    = 10.0
	chartBase   = 125.0
	chartHeight = 130
)

// chartBar is one hour of the chart.
type chartBar struct {
	Hour               time.Time
	Reported, Observed int64
	// X is the hour's slot; RY, RH place the reported bar and OY, OH the
	// observed one (RW, OW wide, the observed at OX).
	X, RW, RY, RH, OX, OW, OY, OH float64
}

// chart is the device page's chart.
type chart struct {
	Range string
	Hours int
	Bars  []chartBar
	// Top is the value at the chart's top: the largest of the counts and
	// the rate.
	Top int64
	// Rate is the licensed samples per hour (0: no limit, no line) and
	// Enforcement the mode of the license that sets it; RateY places the
	// line. HasRate is false when the device has no license to take a
	// rate from.
	Rate        int64
	Enforcement string
	HasRate     bool
	RateY       float64
	// HasObserved: the broker observed something in the window; the
	// observed bars are drawn only then.
	HasObserved bool
	// ByTotals: the device's clock is off, so the broker's hours are not
	// its hours; the chart shows its own hours and the totals stand for
	// the comparison (Observed next to Accepted of the window).
	ByTotals           bool
	Observed, Accepted int64
	Excess             int64
}

// chartRangeOf reads ?range= (24h by default).
func chartRangeOf(r *http.Request) (string, int, error) {
	v := r.URL.Query().Get("range")
	if v == "" {
		v = "24h"
	}
	n, ok := chartRanges[v]
	if !ok {
		return "", 0, fmt.Errorf("%w: range %q: use 24h or 7d", api.ErrBadQuery, v)
	}
	return v, n, nil
}

// deviceChart builds the chart of the hours ending with the current one.
func (c *Console) deviceChart(ctx context.Context, a ledger.Actor, d *ledger.Device, st *ledger.SyncStatus, rng string, hours int) (*chart, error) {
	end := c.clock.Now().UTC().Truncate(time.Hour).Add(time.Hour)
	from := end.Add(-time.Duration(hours) * time.Hour)
	tv, err := c.lg.DeviceTelemetry(ctx, a, d.ID, ledger.TelemetryWindow{From: from, To: end})
	if err != nil {
		return nil, err
	}
	// The licensed rate as this month's consumption report gives it (one
	// copy of the rate rule), for this device alone.
	rate, err := c.lg.DeviceConsumption(ctx, a, d.ID, c.clock.Now())
	if err != nil {
		return nil, err
	}
	ch := &chart{Range: rng, Hours: hours, Rate: rate.SamplesPerHour, Enforcement: rate.Enforcement, HasRate: len(rate.Licenses) > 0,
		ByTotals: tv.ByTotals, Observed: tv.Observed, Accepted: tv.Accepted, Excess: tv.Excess}
	reported := map[int64]int64{}
	observed := map[int64]int64{}
	if tv.ByTotals {
		// The device's own hours: the last of them ends the chart.
		if n := len(st.Hourly); n > 0 {
			end = time.Unix(st.Hourly[n-1].Hour, 0).UTC().Add(time.Hour)
			from = end.Add(-time.Duration(hours) * time.Hour)
		}
		for _, h := range st.Hourly {
			reported[h.Hour] = h.Accepted
		}
	} else {
		for _, h := range tv.Hours {
			reported[h.Hour], observed[h.Hour] = h.Accepted, h.Observed
			ch.HasObserved = ch.HasObserved || h.Observed > 0
		}
	}
	ch.Top = ch.Rate
	for h := from; h.Before(end); h = h.Add(time.Hour) {
		b := chartBar{Hour: h, Reported: reported[h.Unix()], Observed: observed[h.Unix()]}
		ch.Top = max(ch.Top, b.Reported, b.Observed)
		ch.Bars = append(ch.Bars, b)
	}
	layout(ch)
	return ch, nil
}

// layout places the bars and the rate line in the view box.
func layout(ch *chart) {
	slot := chartWidth / float64(len(ch.Bars))
	y := func(n int64) float64 {
		if ch.Top == 0 {
			return chartBase
		}
		return chartBase - (chartBase-chartTop)*float64(n)/float64(ch.Top)
	}
	for i := range ch.Bars {
		b := &ch.Bars[i]
		b.X = float64(i) * slot
		b.RW = slot * 0.8
		if ch.HasObserved {
			b.RW = slot * 0.42
			b.OX, b.OW = b.X+slot*0.42, slot*0.42
		}
		b.RY, b.OY = y(b.Reported), y(b.Observed)
		b.RH, b.OH = chartBase-b.RY, chartBase-b.OY
	}
	ch.RateY = y(ch.Rate)
}
