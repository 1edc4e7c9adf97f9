package api

import (
	"net/http"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// deviceSyncStatus is GET /v1/devices/{id}/sync: last sync, acked seq,
// gaps, forks, overdrafts and the hourly counts of the last 7 days.
func (a *API) deviceSyncStatus(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	st, err := a.lg.DeviceSyncStatus(r.Context(), actor(r), id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.render(w, http.StatusOK, syncStatusWire(st))
}

func syncStatusWire(st *ledger.SyncStatus) wire.DeviceSync {
	out := wire.DeviceSync{DeviceID: st.DeviceID, LastSyncAt: timePtr(st.LastSyncAt), Syncs: st.Syncs,
		AckedSeq: st.AckedSeq, HighestSeq: st.HighestSeq, Gaps: make([]wire.SeqRange, len(st.Missing)),
		ForkCount: st.Forks, Forks: make([]wire.SyncFork, len(st.ForkList)),
		Overdrafts: st.Overdrafts, Overdrawn: make([]wire.SyncOverdraft, len(st.OverdraftList)),
		Last24h: wire.CountTotals(st.Last24h), Last7d: wire.CountTotals(st.Last7d), Hourly: make([]wire.HourCount, len(st.Hourly))}
	out.WindowsBy = "device_hours"
	if st.ByReceipt {
		out.WindowsBy = "server_receipt"
	}
	out.Clock = clockWire(st.Clock, "hourly lists hours of the device's clock; "+
		"the 24 h and 7 d totals count what its syncs brought in the server's last 24 h and 7 d")
	for i, m := range st.Missing {
		out.Gaps[i] = wire.SeqRange(m)
	}
	for i, f := range st.ForkList {
		out.Forks[i] = wire.SyncFork{Seq: f.Seq, SeenAt: f.At, Held: syncDeductionWire(f.Held), Reported: syncDeductionWire(f.Reported)}
		if f.Charge != nil {
			c := deductionWire(f.Charge)
			out.Forks[i].Charge = &c
		}
	}
	for i, d := range st.OverdraftList {
		out.Overdrawn[i] = wire.SyncOverdraft{Seq: d.Seq, At: d.At}
	}
	out.CountConflicts, out.ForkedHours = st.CountConflicts, make([]time.Time, len(st.ForkedHours))
	for i, h := range st.ForkedHours {
		out.ForkedHours[i] = unix(h)
	}
	for i, c := range st.Hourly {
		out.Hourly[i] = wire.HourCount{Hour: unix(c.Hour), Accepted: c.Accepted, Overage: c.Overage, Refused: c.Refused, RefusedBy: c.RefusedBy}
	}
	return out
}

func syncDeductionWire(d syncproto.Deduction) wire.SyncDeduction {
	return wire.SyncDeduction{Seq: d.Seq, LicenseID: d.LicenseID, At: unix(d.At), PaidUntil: unix(d.PaidUntil),
		DaysBefore: d.DaysBefore, DaysAfter: d.DaysAfter}
}

func unix(s int64) time.Time { return time.Unix(s, 0).UTC() }
