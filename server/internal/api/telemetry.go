package api

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// defaultTelemetryWindow is the window of the telemetry views when the
// query names none: the last 7 days, as the device sync view.
const defaultTelemetryWindow = 7 * 24 * time.Hour

// deviceTelemetry is GET /v1/devices/{id}/telemetry?from=&to=|within=:
// per hour, what the broker observed next to what the device reported.
func (a *API) deviceTelemetry(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	win, err := a.telemetryWindow(r.URL.Query())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	v, err := a.lg.DeviceTelemetry(r.Context(), actor(r), id, win)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := wire.DeviceTelemetry{DeviceID: v.DeviceID, CustomerID: v.CustomerID, From: unix(v.From), To: unix(v.To),
		SettledBefore: timePtr(v.SettledBefore), Observed: v.Observed, ReportedAccepted: v.Accepted, Excess: v.Excess,
		Hours: make([]wire.TelemetryHour, len(v.Hours)), Compared: comparedPerHour}
	if v.ByTotals {
		out.Compared = comparedTotals
	}
	out.Clock = clockWire(v.Clock, fmt.Sprintf("reported hours are device hours, observed hours are server hours; "+
		"compared as totals since %s: observed by the broker next to the accepted samples its syncs brought",
		unix(v.From).Format(time.RFC3339)))
	for i, h := range v.Hours {
		out.Hours[i] = wire.TelemetryHour{Hour: unix(h.Hour), Observed: h.Observed, ReportedAccepted: h.Accepted,
			ReportedOverage: h.Overage, Difference: h.Difference(), Settled: h.Settled}
	}
	a.render(w, http.StatusOK, out)
}

// telemetryDiscrepancies is GET /v1/telemetry/discrepancies?customer=&from=&to=|within=&min_excess=&limit=:
// the devices whose observed telemetry exceeds what they reported.
func (a *API) telemetryDiscrepancies(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	win, err := a.telemetryWindow(q)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	customer, err := queryID(q, "customer")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	limit, err := queryLimit(q)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	minExcess := int64(1)
	if s := q.Get("min_excess"); s != "" {
		if minExcess, err = strconv.ParseInt(s, 10, 64); err != nil || minExcess < 1 {
			a.fail(w, r, fmt.Errorf("%w: min_excess %q: want a whole number ≥ 1", ErrBadQuery, s))
			return
		}
	}
	ds, complete, err := a.lg.TelemetryDiscrepancies(r.Context(), actor(r),
		ledger.DiscrepancyQuery{CustomerID: customer, Window: win, MinExcess: minExcess, Limit: limit})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if customer == "" {
		customer = actor(r).CustomerID
	}
	out := wire.TelemetryDiscrepancyList{CustomerID: customer, From: win.From.UTC(), To: win.To.UTC(), MinExcess: minExcess,
		Complete: complete, Devices: make([]wire.TelemetryDiscrepancy, len(ds))}
	for i, d := range ds {
		out.Devices[i] = wire.TelemetryDiscrepancy{DeviceID: d.DeviceID, CustomerID: d.CustomerID, Observed: d.Observed,
			ReportedAccepted: d.Accepted, Excess: d.Excess, Hours: d.Hours, SettledBefore: timePtr(d.SettledBefore), Compared: comparedPerHour}
		if d.ByTotals {
			out.Devices[i].Compared = comparedTotals
		}
	}
	a.render(w, http.StatusOK, out)
}

// telemetryWindow reads from and to (RFC 3339 or YYYY-MM-DD, UTC), or
// within (30d, 12h) ending now. Defaults: the last 7 days. The ledger
// aligns it to whole hours and bounds its length.
func (a *API) telemetryWindow(q url.Values) (ledger.TelemetryWindow, error) {
	now := a.clock.Now().UTC()
	w := ledger.TelemetryWindow{From: now.Add(-defaultTelemetryWindow), To: now}
	if s := q.Get("within"); s != "" {
		if q.Get("from") != "" || q.Get("to") != "" {
			return w, fmt.Errorf("%w: within goes without from and to", ErrBadQuery)
		}
		d, err := ParseWithin(s)
		if err != nil {
			return w, err
		}
		w.From = now.Add(-d)
		return w, nil
	}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"from", &w.From}, {"to", &w.To}} {
		s := q.Get(p.name)
		if s == "" {
			continue
		}
		t, err := parseQueryTime(s)
		if err != nil {
			return w, fmt.Errorf("%w: %s %q: want RFC 3339 or YYYY-MM-DD", ErrBadQuery, p.name, s)
		}
		*p.dst = t
	}
	if q.Get("from") == "" && q.Get("to") != "" {
		w.From = w.To.Add(-defaultTelemetryWindow)
	}
	return w, nil
}

func parseQueryTime(s string) (time.Time, error) {
	if len(s) > 40 {
		return time.Time{}, fmt.Errorf("too long")
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Parse(time.DateOnly, s)
}

// Compared values of the telemetry views (wire.DeviceTelemetry.Compared).
const (
	comparedPerHour = "per_hour"
	comparedTotals  = "totals"
)

// clockWire is a device's clock for a view (nil: it never synced online);
// note says what the view does when the clock is off.
func clockWire(c ledger.DeviceClock, note string) *wire.DeviceClock {
	if !c.Known {
		return nil
	}
	out := &wire.DeviceClock{OffsetSeconds: int64(c.Offset / time.Second), CheckedAt: c.CheckedAt.UTC(), Off: c.Off()}
	if out.Off {
		way, d := "ahead of", c.Offset
		if d < 0 {
			way, d = "behind", -d
		}
		out.Note = fmt.Sprintf("device clock runs %s server time by %s (at its last sync): %s", way, roughDuration(d), note)
	}
	return out
}

// roughDuration writes a duration in days and hours (3d4h), or hours and
// minutes below a day (2h30m).
func roughDuration(d time.Duration) string {
	days, h, m := int64(d/(24*time.Hour)), int64(d%(24*time.Hour)/time.Hour), int64(d%time.Hour/time.Minute)
	if days > 0 {
		return fmt.Sprintf("%dd%dh", days, h)
	}
	return fmt.Sprintf("%dh%dm", h, m)
}
