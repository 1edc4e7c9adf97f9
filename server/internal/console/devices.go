package console

import (
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/api"
	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
)

// The device pages call what GET /v1/devices, GET /v1/devices/{id}, GET
// /v1/devices/{id}/sync and GET /v1/licenses?device= call.

// chartHours is how many hours the device page's bar chart shows.
const chartHours = 24

type devicesData struct {
	Devices  []ledger.Device
	Customer string
	Next     string
	First    string
}

func (c *Console) devices(w http.ResponseWriter, r *http.Request, s *ledger.Session) {
	cust, err := api.QueryID(r, "customer")
	var limit int
	var cursor string
	if err == nil {
		limit, cursor, err = api.PageOf(r)
	}
	if err != nil {
		c.failErr(w, r, s, err)
		return
	}
	ds, next, err := c.lg.ListDevices(r.Context(), s.Actor, cust, cursor, limit)
	if err != nil {
		c.failErr(w, r, s, err)
		return
	}
	d := devicesData{Devices: ds, Customer: cust}
	q := url.Values{}
	if cust != "" {
		q.Set("customer", cust)
	}
	if cursor != "" {
		d.First = Prefix + "devices?" + q.Encode()
	}
	if next != "" {
		q.Set("cursor", api.EncodeCursor(next))
		d.Next = Prefix + "devices?" + q.Encode()
	}
	c.render(w, http.StatusOK, "devices", page{Title: "Devices", Session: s, Data: d})
}

// bar is one hour of the device page's chart.
type bar struct {
	Hour                       time.Time
	Accepted, Overage, Refused int64
	// X, Y, H place the accepted bar in the chart's view box.
	X, Y, H float64
}

type deviceData struct {
	Device   *ledger.Device
	Sync     *ledger.SyncStatus
	Licenses []ledger.LicenseView
	Bars     []bar
	// Max is the chart's top (the largest hourly count shown).
	Max int64
}

func (c *Console) device(w http.ResponseWriter, r *http.Request, s *ledger.Session) {
	id := r.PathValue("id")
	dev, err := c.lg.GetDevice(r.Context(), s.Actor, id)
	if err != nil {
		c.failErr(w, r, s, err)
		return
	}
	st, err := c.lg.DeviceSyncStatus(r.Context(), s.Actor, dev.ID)
	if err != nil {
		c.failErr(w, r, s, err)
		return
	}
	ls, _, err := c.lg.ListLicenses(r.Context(), s.Actor, ledger.LicenseFilter{DeviceID: dev.ID})
	if err != nil {
		c.failErr(w, r, s, err)
		return
	}
	d := deviceData{Device: dev, Sync: st, Licenses: ls}
	d.Bars, d.Max = bars(st.Hourly)
	c.render(w, http.StatusOK, "device", page{Title: "Device " + dev.ID, Session: s, Data: d})
}

// bars lays out the last chartHours hourly counts (oldest first) as bars
// in a 480×120 view box, scaled to the largest count.
func bars(hourly []syncproto.HourlyCount) ([]bar, int64) {
	if len(hourly) > chartHours {
		hourly = hourly[len(hourly)-chartHours:]
	}
	var top int64
	for _, h := range hourly {
		top = max(top, h.Accepted)
	}
	out := make([]bar, len(hourly))
	for i, h := range hourly {
		b := bar{Hour: time.Unix(h.Hour, 0).UTC(), Accepted: h.Accepted, Overage: h.Overage, Refused: h.Refused,
			X: float64(i) * 480 / chartHours}
		if top > 0 {
			b.H = 110 * float64(h.Accepted) / float64(top)
		}
		b.Y = 115 - b.H
		out[i] = b
	}
	return out, top
}

// num prints a chart coordinate.
func num(f float64) string { return fmt.Sprintf("%.1f", f) }
