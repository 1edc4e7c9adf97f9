package api

import (
	"fmt"
	"net/http"

	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// stats is GET /v1/stats[?customer=ID]: the figures of a customer's
// subtree (default: the caller's own customer).
func (a *API) stats(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	for name := range q {
		if name != "customer" {
			a.fail(w, r, fmt.Errorf("%w: unknown parameter %q", ErrBadQuery, name))
			return
		}
	}
	cust, err := queryID(q, "customer")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	st, err := a.lg.Stats(r.Context(), actor(r), cust)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.render(w, http.StatusOK, statsWire(st))
}

func statsWire(st *ledger.Stats) wire.Stats {
	out := wire.Stats{CustomerID: st.CustomerID, At: st.At, ByType: st.ByType, ByBilling: st.ByBilling,
		ByStatus: make(map[string]int64, len(st.ByStatus)), Kinds: make([]wire.StatsKind, len(st.Kinds)),
		DaysLeft: wire.StatsDaysLeft{Under30: st.DaysLeft30, Under7: st.DaysLeft7, Truncated: st.ExpiringTruncated,
			Licenses: make([]wire.StatsExpiring, len(st.Expiring))},
		Devices: wire.StatsDevices{Blacklisted: st.DevicesBlacklisted, Offline: st.DevicesOffline}}
	for s, n := range st.ByStatus {
		out.ByStatus[string(s)] = n
	}
	for i, k := range st.Kinds {
		c := k.ByStatus
		out.Kinds[i] = wire.StatsKind{Type: k.Type, Billing: k.Billing, Models: k.Models, MaxSamplesPerHour: k.MaxSamplesPerHour,
			Unused: c[ledger.StatusUnused], Inactive: c[ledger.StatusInactive], PendingStart: c[ledger.StatusPendingStart],
			Active: c[ledger.StatusActive], Deactivated: c[ledger.StatusDeactivated], Expired: c[ledger.StatusExpired],
			Suspended: c[ledger.StatusSuspended], Revoked: c[ledger.StatusRevoked], Transferred: c[ledger.StatusTransferred],
			Total: k.Total}
	}
	for i, x := range st.Expiring {
		out.DaysLeft.Licenses[i] = wire.StatsExpiring{LicenseID: x.ID, Serial: x.Serial, CustomerID: x.CustomerID,
			Billing: x.Billing, DaysLeft: x.DaysLeft, End: x.End}
	}
	return out
}
