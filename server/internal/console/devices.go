package console

import (
	"fmt"
	"net/http"
	"net/url"

	"github.com/tollgate-iot/tollgate/server/internal/api"
	"github.com/tollgate-iot/tollgate/server/internal/ledger"
)

// The device pages call what GET /v1/devices, GET /v1/devices/{id}, GET
// /v1/devices/{id}/sync and GET /v1/licenses?device= call.

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

type deviceData struct {
	Device   *ledger.Device
	Sync     *ledger.SyncStatus
	Licenses []ledger.LicenseView
	Chart    *chart
	// Done is the notice after an action (deviceactions.go).
	Done string
}

func (c *Console) device(w http.ResponseWriter, r *http.Request, s *ledger.Session) {
	id := r.PathValue("id")
	rng, hours, err := chartRangeOf(r)
	if err != nil {
		c.failErr(w, r, s, err)
		return
	}
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
	d := deviceData{Device: dev, Sync: st, Licenses: ls, Done: deviceDone[r.URL.Query().Get("done")]}
	if d.Chart, err = c.deviceChart(r.Context(), s.Actor, dev, st, rng, hours); err != nil {
		c.failErr(w, r, s, err)
		return
	}
	c.render(w, http.StatusOK, "device", page{Title: "Device " + dev.ID, Session: s, Data: d})
}

// num prints a chart coordinate.
func num(f float64) string { return fmt.Sprintf("%.1f", f) }
