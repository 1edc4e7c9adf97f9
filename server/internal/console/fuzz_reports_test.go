package console

import (
	"io"
	"math"
	"net/http"
	"testing"
	"time"
)

// FuzzChartLayout: any hourly counts and rate give bars and a rate line
// inside the view box, with heights in proportion to the counts.
func FuzzChartLayout(f *testing.F) {
	f.Add(int64(3600), int64(2400), int64(2500), int64(0), false)
	f.Add(int64(0), int64(0), int64(0), int64(0), true)
	f.Add(int64(1), int64(1<<40), int64(7), int64(1<<50), true)
	f.Fuzz(func(t *testing.T, rate, a, b, c int64, observed bool) {
		if min(rate, a, b, c) < 0 {
			t.Skip() // the ledger's counts and rates are never negative
		}
		ch := &chart{Rate: rate, HasObserved: observed, Top: max(rate, a, b, c)}
		for i, n := range []int64{a, b, c} {
			ch.Bars = append(ch.Bars, chartBar{Hour: time.Unix(int64(i)*3600, 0), Reported: n, Observed: c - n/2})
		}
		for i := range ch.Bars {
			ch.Bars[i].Observed = max(ch.Bars[i].Observed, 0)
		}
		layout(ch)
		in := func(v float64) bool { return !math.IsNaN(v) && v >= chartTop-0.001 && v <= chartBase+0.001 }
		for _, bar := range ch.Bars {
			if !in(bar.RY) || !in(bar.OY) || bar.RH < 0 || bar.X < 0 || bar.X+bar.RW > chartWidth+0.001 {
				t.Fatalf("bar %+v outside the view box", bar)
			}
			if bar.Reported > 0 && ch.Top > 0 && math.Abs(bar.RH-(chartBase-chartTop)*float64(bar.Reported)/float64(ch.Top)) > 0.001 {
				t.Fatalf("bar %+v out of proportion (top %d)", bar, ch.Top)
			}
		}
		if !in(ch.RateY) {
			t.Fatalf("rate line at %f", ch.RateY)
		}
	})
}

// FuzzReportQuery sends arbitrary queries to the report pages and the
// device chart as a signed-in distributor admin: every answer is a page or
// a refusal with a code, never a 500.
func FuzzReportQuery(f *testing.F) {
	w := reportsWorldTB(f)
	c := w.client()
	w.signIn(c, w.email["dist"])
	for _, q := range []string{"month=2026-03", "month=2026-13&customer=beta", "from=2026-01-01&to=2026-02-01", "day=x", "range=7d", "cursor=%%", "limit=-1"} {
		f.Add(q)
	}
	paths := []string{"/console/reports/consumption?", "/console/reports/consumption.csv?", "/console/reports/renewals?",
		"/console/reports/active?", "/console/reports/created?", "/console/devices/acme-meter?", "/console/reports?"}
	f.Fuzz(func(t *testing.T, q string) {
		for _, p := range paths {
			req, err := http.NewRequest(http.MethodGet, w.srv.URL+p+q, nil)
			if err != nil {
				t.Skip()
			}
			res, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode >= 500 {
				t.Fatalf("%s%s: %d", p, q, res.StatusCode)
			}
		}
	})
}
