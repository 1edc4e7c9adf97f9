package console

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"

	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/shared/token"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// The license page's deductions, notices, token download and single-license
// actions. Each calls the ledger method of its API endpoint as the signed-in
// actor: GET /v1/licenses/{id}/deductions, GET /v1/licenses/{id}/notices,
// GET /v1/licenses/{id}/token, and POST /v1/licenses/{id}/lock, unlock,
// renew, suspend, resume and revoke.

// DeductionsShown is how many deductions (the latest) a license page lists.
const DeductionsShown = 100

// licenseExtra is what the license page shows beside the fields and the
// history.
type licenseExtra struct {
	// Deductions are the latest DeductionsShown, newest first; Total counts
	// them all.
	Deductions []ledger.Deduction
	Total      int
	Notices    []ledger.Notice
	// Actions are the single-license actions offered; Confirming is the
	// one the page asks to confirm, nil for none.
	Actions    []licenseAct
	Confirming *licenseAct
}

// licenseExtraOf reads a license's deductions and notices as the actor.
func (c *Console) licenseExtraOf(ctx context.Context, a ledger.Actor, l *ledger.LicenseView) (licenseExtra, error) {
	id := l.ID
	ds, err := c.lg.ListDeductions(ctx, a, id)
	if err != nil {
		return licenseExtra{}, err
	}
	ns, err := c.lg.ListNotices(ctx, a, id)
	if err != nil {
		return licenseExtra{}, err
	}
	x := licenseExtra{Total: len(ds), Notices: ns}
	for _, act := range licenseActs {
		if act.offered(l) {
			x.Actions = append(x.Actions, act)
		}
	}
	for i := len(ds) - 1; i >= 0 && len(x.Deductions) < DeductionsShown; i-- {
		x.Deductions = append(x.Deductions, ds[i])
	}
	return x, nil
}

// tokenName is what a token file's name may hold of a serial.
var tokenName = regexp.MustCompile(`[^A-Za-z0-9._-]`)

// licenseToken answers the license's current signed token as a file: the
// body GET /v1/licenses/{id}/token answers, as an attachment.
func (c *Console) licenseToken(w http.ResponseWriter, r *http.Request, s *ledger.Session) {
	t, err := c.lg.LicenseToken(r.Context(), s.Actor, r.PathValue("id"))
	if err != nil {
		c.failErr(w, r, s, err)
		return
	}
	l, err := c.lg.GetLicense(r.Context(), s.Actor, t.LicenseID)
	if err != nil {
		c.failErr(w, r, s, err)
		return
	}
	body, err := json.Marshal(wire.LicenseToken{LicenseID: t.LicenseID, DeviceID: t.DeviceID, Version: t.Version, NotAfter: t.NotAfter, Token: t.Token})
	if err != nil {
		c.failErr(w, r, s, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", `attachment; filename="`+tokenName.ReplaceAllString(l.Serial, "_")+`.token.json"`)
	w.Write(append(body, '\n'))
}

// licenseAct is a single-license action of the license page.
type licenseAct struct {
	Name, Label string
	// Confirm is the question of the confirm step; "" for an action that
	// needs none (it is undone as easily).
	Confirm string
	// Done is the notice after it.
	Done string
	// offered says whether the page offers it for the license's state
	// (the ledger decides whether the actor may).
	offered func(l *ledger.LicenseView) bool
	do      func(c *Console, ctx context.Context, a ledger.Actor, id string) (*ledger.LicenseView, error)
}

// licenseActs are the license page's actions. Which of them the actor may
// do on a license is the ledger's to say: a refusal is shown with the API's
// code and message.
var licenseActs = []licenseAct{
	{Name: "lock", Label: "Lock", Done: "Locked: it can be neither sold, returned nor bound until unlocked.",
		offered: func(l *ledger.LicenseView) bool { return !l.Locked && l.Status == ledger.StatusUnused },
		do: func(c *Console, ctx context.Context, a ledger.Actor, id string) (*ledger.LicenseView, error) {
			return c.lg.SetLock(ctx, a, id, true)
		}},
	{Name: "unlock", Label: "Unlock", Done: "Unlocked.",
		offered: func(l *ledger.LicenseView) bool { return l.Locked },
		do: func(c *Console, ctx context.Context, a ledger.Actor, id string) (*ledger.LicenseView, error) {
			return c.lg.SetLock(ctx, a, id, false)
		}},
	{Name: "renew-on", Label: "Switch renewal on", Done: "Renewal is on.",
		offered: func(l *ledger.LicenseView) bool { return renewable(l) && !l.Renew },
		do: func(c *Console, ctx context.Context, a ledger.Actor, id string) (*ledger.LicenseView, error) {
			return c.lg.SetRenew(ctx, a, id, true)
		}},
	{Name: "renew-off", Label: "Switch renewal off", Done: "Renewal is off: the license ends at its period end.",
		offered: func(l *ledger.LicenseView) bool { return renewable(l) && l.Renew },
		Confirm: "The license will not renew and ends at its period end (or the next one inside the cancellation period).",
		do: func(c *Console, ctx context.Context, a ledger.Actor, id string) (*ledger.LicenseView, error) {
			return c.lg.SetRenew(ctx, a, id, false)
		}},
	{Name: "suspend", Label: "Suspend", Done: "Suspended: the device loses the license at its next sync.",
		offered: func(l *ledger.LicenseView) bool { return !l.Suspended && live(l) },
		Confirm: "The license is denied until resumed: its token is dropped and the device loses it at its next sync.",
		do: func(c *Console, ctx context.Context, a ledger.Actor, id string) (*ledger.LicenseView, error) {
			return c.lg.Suspend(ctx, a, id)
		}},
	{Name: "resume", Label: "Resume", Done: "Resumed.",
		offered: func(l *ledger.LicenseView) bool { return l.Suspended && live(l) },
		do: func(c *Console, ctx context.Context, a ledger.Actor, id string) (*ledger.LicenseView, error) {
			return c.lg.Resume(ctx, a, id)
		}},
	{Name: "revoke", Label: "Revoke", Done: "Revoked for good.",
		offered: live,
		Confirm: "The license ends at once and for good; it cannot be undone.",
		do: func(c *Console, ctx context.Context, a ledger.Actor, id string) (*ledger.LicenseView, error) {
			return c.lg.Revoke(ctx, a, id)
		}},
}

// licenseActDone are the notices after the page's actions, by ?done=.
var licenseActDone = func() map[string]string {
	m := map[string]string{}
	for _, a := range licenseActs {
		m[a.Name] = a.Done
	}
	return m
}()

// licenseAction posts one action: destructive ones ask to confirm first
// (the page again, with the question), then act on confirm=yes.
func (c *Console) licenseAction(act licenseAct) func(http.ResponseWriter, *http.Request, *ledger.Session) {
	return func(w http.ResponseWriter, r *http.Request, s *ledger.Session) {
		id := r.PathValue("id")
		if act.Confirm != "" && r.PostForm.Get("confirm") != "yes" {
			c.licensePage(w, r, s, id, http.StatusOK, nil, act.Name)
			return
		}
		l, err := act.do(c, r.Context(), s.Actor, id)
		if err != nil {
			c.licenseRefused(w, r, s, id, err, "")
			return
		}
		http.Redirect(w, r, Prefix+"licenses/"+l.ID+"?done="+act.Name, http.StatusSeeOther)
	}
}

// confirming sets the action the page asks to confirm, by name.
func (x *licenseExtra) confirming(name string) {
	for i := range licenseActs {
		if licenseActs[i].Name == name && licenseActs[i].Confirm != "" {
			x.Confirming = &licenseActs[i]
		}
	}
}

// renewable says whether renewal can be switched: a standard term license
// that has not ended.
func renewable(l *ledger.LicenseView) bool {
	return l.Type == token.TypeStandard && l.Billing == token.BillingTerm && live(l)
}

// live says whether a license has not ended for good.
func live(l *ledger.LicenseView) bool {
	return l.Status != ledger.StatusRevoked && l.Status != ledger.StatusExpired && l.Status != ledger.StatusTransferred
}
