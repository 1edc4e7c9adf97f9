package ledger

import (
	"context"
	"errors"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/store"
)

// DiscrepancyJudgedAfter is how long after a day ends its telemetry is
// judged for telemetry.discrepancy events: the devices' syncs of that day
// (which settle its hours) have had a day to arrive. A device that synced
// later still shows in the discrepancy list; it gets no event.
const DiscrepancyJudgedAfter = 24 * time.Hour

// DiscrepancyEventData is the data of a telemetry.discrepancy event: a
// device the broker saw send more in a day than it reported.
type DiscrepancyEventData struct {
	DeviceID   string `json:"device_id"`
	CustomerID string `json:"customer_id"`
	Day        string `json:"day"`
	Observed   int64  `json:"observed"`
	Accepted   int64  `json:"accepted"`
	Excess     int64  `json:"excess"`
	Hours      int    `json:"hours"`
}

// emitDiscrepancies judges, once, the last day that ended at least
// DiscrepancyJudgedAfter ago: every device whose settled broker-observed
// telemetry that day exceeded what it reported gets one
// telemetry.discrepancy event (id from device and day). It is part of
// the scheduler's notice pass; one call judges at most one day.
func (lg *Ledger) emitDiscrepancies(ctx context.Context) (int, error) {
	now := lg.clock.Now()
	day := now.Add(-DiscrepancyJudgedAfter).UTC().Truncate(24 * time.Hour).Add(-24 * time.Hour)
	k := store.DiscrepancyDayKey(day.Format(time.DateOnly))
	judged := false
	if err := lg.view(func(o *op) error {
		ok, err := o.x.Has(k)
		judged = ok
		return err
	}); err != nil || judged {
		return 0, err
	}
	root := lg.RootID()
	if root == "" {
		return 0, nil
	}
	list, _, err := lg.TelemetryDiscrepancies(ctx, SystemActor(), DiscrepancyQuery{CustomerID: root,
		Window: TelemetryWindow{From: day, To: day.Add(24 * time.Hour)}, Limit: MaxPageSize})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return 0, err
	}
	emitted := 0
	err = lg.update(func(o *op) error {
		emitted = 0
		if ok, err := o.x.Has(k); err != nil || ok {
			return err
		}
		for _, d := range list {
			data := DiscrepancyEventData{DeviceID: d.DeviceID, CustomerID: d.CustomerID, Day: day.Format(time.DateOnly),
				Observed: d.Observed, Accepted: d.Accepted, Excess: d.Excess, Hours: d.Hours}
			if err := o.emit(EventTelemetryDiscrepancy, "device:"+d.DeviceID, data.Day, data, d.CustomerID); err != nil {
				return err
			}
			emitted++
		}
		return o.x.Put(k, nil)
	})
	return emitted, err
}
