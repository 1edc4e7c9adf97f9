package api

import (
	"context"
	"net/http"

	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

func (a *API) licenseNotices(w http.ResponseWriter, r *http.Request) {
	a.listNotices(w, r, a.lg.ListNotices)
}

func (a *API) customerNotices(w http.ResponseWriter, r *http.Request) {
	a.listNotices(w, r, a.lg.ListCustomerNotices)
}

// listNotices answers the notices list of the license or customer named
// by the path (no query parameters).
func (a *API) listNotices(w http.ResponseWriter, r *http.Request, list func(context.Context, ledger.Actor, string) ([]ledger.Notice, error)) {
	id, err := pathID(r, "id")
	if err == nil {
		err = readQuery(r).err()
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	ns, err := list(r.Context(), actor(r), id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := wire.NoticeList{Notices: make([]wire.Notice, len(ns))}
	for i := range ns {
		out.Notices[i] = toNotice(&ns[i])
	}
	a.render(w, http.StatusOK, out)
}

func toNotice(n *ledger.Notice) wire.Notice {
	return wire.Notice{ID: n.ID, LicenseID: n.LicenseID, Serial: n.Serial, CustomerID: n.CustomerID, DeviceID: n.DeviceID,
		Kind: n.Kind, End: n.End, DueAt: n.DueAt, IssuedAt: n.IssuedAt, Collapsed: n.Collapsed, Subject: n.Subject, Summary: n.Summary(),
		Email: wire.NoticeEmail{State: n.Email.State, To: n.Email.To, Attempts: n.Email.Attempts, LastError: n.Email.LastError,
			NextAt: n.Email.NextAt, SentAt: n.Email.SentAt}}
}
