package console

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tollgate-iot/tollgate/server/internal/ledger"
)

// ledgerHours is what the ledger holds for every hour of the chart of
// the last n hours ending with now's hour: reported and observed per hour,
// oldest first, from the ledger's telemetry view.
func ledgerHours(t *testing.T, lg *ledger.Ledger, a ledger.Actor, dev string, now time.Time, n int) (reported, observed []int64) {
	t.Helper()
	end := now.UTC().Truncate(time.Hour).Add(time.Hour)
	from := end.Add(-time.Duration(n) * time.Hour)
	tv, err := lg.DeviceTelemetry(context.Background(), a, dev, ledger.TelemetryWindow{From: from, To: end})
	if err != nil {
		t.Fatal(err)
	}
	byHour := map[int64]ledger.TelemetryHour{}
	for _, h := range tv.Hours {
		byHour[h.Hour] = h
	}
	var sum int64
	for h := from; h.Before(end); h = h.Add(time.Hour) {
		reported = append(reported, byHour[h.Unix()].Accepted)
		observed = append(observed, byHour[h.Unix()].Observed)
		sum += byHour[h.Unix()].Accepted
	}
	if sum == 0 {
		t.Fatalf("the ledger holds no counts for %s in the last %d hours: the fixture is wrong", dev, n)
	}
	return reported, observed
}

// TestConsoleDeviceChartAgainstRate: for 24 hours and for 7 days, the
// device page's chart has a reported and an observed bar per hour with
// the ledger's numbers (in the bars' data and titles and in the table),
// and a line at the licensed rate the consumption report gives the
// device, drawn at that rate's height.
func TestConsoleDeviceChartAgainstRate(t *testing.T) {
	w, dev := demoWorld(t)
	bg := context.Background()
	lg, root := w.lg, w.actor["root"]
	now := w.le.Clock.Now().UTC().Truncate(time.Hour)
	// The broker saw a little more than the device reported in some hours.
	var obs []ledger.ObservedCount
	for h := 1; h <= 30; h += 3 {
		obs = append(obs, ledger.ObservedCount{CustomerID: "acme-water", DeviceID: dev, Hour: now.Add(-time.Duration(h) * time.Hour).Unix(), Count: int64(2000 + 10*h)})
	}
	if kept, _, err := lg.AddObservedCounts(bg, obs); err != nil || kept != len(obs) {
		t.Fatalf("observed: kept %d, %v", kept, err)
	}
	// The rate the ledger's consumption report gives the device.
	rows := &allRows{rows: map[string]int64{}}
	if _, err := lg.ConsumptionReport(bg, root, ledger.ConsumptionQuery{CustomerID: "acme-water", Month: now}, rows); err != nil {
		t.Fatal(err)
	}
	wantRate := rows.rows[dev]
	if wantRate != 3600 {
		t.Fatalf("fixture: the device's rate is %d, want the 3600 of its term license", wantRate)
	}

	ctx := tab(t)
	if err := w.signInBrowser(ctx, w.email["acme-water"], testPassword); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		query string
		hours int
	}{{"", 24}, {"?range=7d", 7 * 24}} {
		reported, observed := ledgerHours(t, lg, root, dev, now, tc.hours)
		if err := chromedp.Do(ctx, chromedp.Navigate(w.srv.URL+"/console/devices/"+dev+tc.query), chromedp.WaitVisible(css("#hourly"))); err != nil {
			t.Fatal(err)
		}
		type page struct {
			Reported, Observed []int64
			Titles             []string
			Table              [][]int64
			Rate               int64
			RateY              float64
			Heights            []float64
		}
		p, err := chromedp.Run(ctx, chromedp.Evaluate[page](`(() => {
			const n = s => [...document.querySelectorAll(s)].map(e => Number(e.dataset.count));
			const line = document.querySelector('svg.bars line.rate');
			return {
				Reported: n('svg.bars rect.reported'), Observed: n('svg.bars rect.observed'),
				Titles: [...document.querySelectorAll('svg.bars rect.reported title')].map(e => e.textContent),
				Table: [...document.querySelectorAll('#hourly tbody tr')].map(r => [Number(r.cells[1].textContent), Number(r.cells[2].textContent)]),
				Rate: line ? Number(line.dataset.rate) : -1, RateY: line ? Number(line.getAttribute('y1')) : -1,
				Heights: [...document.querySelectorAll('svg.bars rect.reported')].map(e => Number(e.getAttribute('height'))),
			};
		})()`))
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Reported) != tc.hours || len(p.Observed) != tc.hours || len(p.Table) != tc.hours {
			t.Fatalf("%s: %d reported bars, %d observed, %d rows; want %d each", tc.query, len(p.Reported), len(p.Observed), len(p.Table), tc.hours)
		}
		var top int64 = wantRate
		for i := range reported {
			if p.Reported[i] != reported[i] || p.Observed[i] != observed[i] || p.Table[i][0] != reported[i] || p.Table[i][1] != observed[i] {
				t.Fatalf("%s hour %d: page reported %d (table %d), observed %d (table %d); ledger %d and %d",
					tc.query, i, p.Reported[i], p.Table[i][0], p.Observed[i], p.Table[i][1], reported[i], observed[i])
			}
			if want := ": " + strconv.FormatInt(reported[i], 10) + " reported"; len(p.Titles[i]) < len(want) || p.Titles[i][len(p.Titles[i])-len(want):] != want {
				t.Fatalf("%s hour %d: title %q, want it to end %q", tc.query, i, p.Titles[i], want)
			}
			top = max(top, reported[i], observed[i])
		}
		if p.Rate != wantRate {
			t.Fatalf("%s: rate line at %d, the ledger's rate is %d", tc.query, p.Rate, wantRate)
		}
		// The line sits where a bar of the rate's height would end.
		wantY := chartBase - (chartBase-chartTop)*float64(wantRate)/float64(top)
		if d := p.RateY - wantY; d > 0.1 || d < -0.1 {
			t.Fatalf("%s: rate line at y=%.1f, want %.1f (top %d)", tc.query, p.RateY, wantY, top)
		}
		for i, h := range p.Heights {
			want := (chartBase - chartTop) * float64(reported[i]) / float64(top)
			if d := h - want; d > 0.1 || d < -0.1 {
				t.Fatalf("%s hour %d: bar height %.1f, want %.1f", tc.query, i, h, want)
			}
		}
	}
	// A range the page does not know is refused with the API's code.
	if err := chromedp.Do(ctx, chromedp.Navigate(w.srv.URL+"/console/devices/"+dev+"?range=1y")); err != nil {
		t.Fatal(err)
	}
	if code, err := errorCode(ctx); err != nil || code != "invalid_parameter" {
		t.Fatalf("range=1y: %q, %v", code, err)
	}
}

// allRows keeps every device's rate of a consumption report.
type allRows struct{ rows map[string]int64 }

func (a *allRows) BeginCustomer(*ledger.Customer) error { return nil }
func (a *allRows) Device(d *ledger.ConsumptionDevice) error {
	a.rows[d.DeviceID] = d.SamplesPerHour
	return nil
}
func (a *allRows) EndCustomer(string, *ledger.ConsumptionTotals) error { return nil }
