package api

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// resetPassword is POST /v1/users/{id}/reset-password: a new invitation
// link where the user sets a new console password (docs/console.md).
func (a *API) resetPassword(w http.ResponseWriter, r *http.Request) {
	id, err := actionID(w, r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	inv, err := a.lg.Invite(r.Context(), actor(r), id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	a.render(w, http.StatusOK, wire.PasswordResetResponse{UserID: inv.UserID, Invitation: a.invitationWire(r.Context(), inv)})
}

// invitationWire is the answer's invitation (InvitationOf).
func (a *API) invitationWire(ctx context.Context, inv *ledger.Invitation) wire.Invitation {
	return InvitationOf(ctx, a.invite, a.log, inv)
}

// InvitationOf is an invitation as the API answers it, e-mailed to its
// person first when mailer is set (the server sends e-mail). A failed send
// does not fail the request: the link is in the answer, and the error says
// to hand it over. The web console answers its invitations the same way.
func InvitationOf(ctx context.Context, mailer InvitationMailer, log *slog.Logger, inv *ledger.Invitation) wire.Invitation {
	out := wire.Invitation{InvitationPath: inv.Path, InvitationExpiresAt: inv.ExpiresAt}
	if mailer == nil || inv.Email == "" {
		return out
	}
	if err := mailer.SendInvitation(ctx, inv.Email, inv.Path, inv.ExpiresAt); err != nil {
		log.Warn("invitation e-mail failed", "user_id", inv.UserID, "error", err)
		out.InvitationEmailError = "the link could not be e-mailed (" + err.Error() + "); hand it to the person yourself"
		return out
	}
	out.InvitationEmailed = true
	return out
}

// Describe is the API's status, code and message for err, for another
// front end (the web console) to show refusals exactly as the API does.
func Describe(err error) (status int, code, message string) { return describe(err) }

// LicenseFilterOf reads a license filter from a request's query exactly as
// GET /v1/licenses does (same parameter names and checks), for the web
// console's license list.
func LicenseFilterOf(r *http.Request) (ledger.LicenseFilter, error) { return licenseFilter(r) }

// EncodeCursor is how a next-page cursor is shown to clients.
func EncodeCursor(next string) string { return encCursor(next) }

// PageOf reads limit and cursor as every paged /v1 listing does.
func PageOf(r *http.Request) (int, string, error) {
	q := &query{q: r.URL.Query()}
	limit, cursor := q.page()
	return limit, cursor, q.err()
}

// QueryID reads an optional id parameter as the /v1 handlers do.
func QueryID(r *http.Request, name string) (string, error) { return queryID(r.URL.Query(), name) }

// SaleFilterOf reads a sales-record filter (from, to, license, method,
// limit, cursor) with the names and checks of GET /v1/sales, for the web
// console's sales page.
func SaleFilterOf(r *http.Request) (ledger.SaleFilter, error) {
	q := readQuery(r, "from", "to", "license", "method", "limit", "cursor")
	f := ledger.SaleFilter{From: q.day("from", false), To: q.day("to", false), LicenseID: q.id("license"),
		Kind: q.oneOf("method", ledger.SaleKinds...)}
	q.period("from", f.From, "to", f.To)
	f.Limit, f.Cursor = q.page()
	return f, q.err()
}

// AuditPageOf reads limit and cursor, and refuses any other parameter, as
// GET /v1/audit does.
func AuditPageOf(r *http.Request) (int, string, error) {
	q := readQuery(r, "limit", "cursor")
	limit, cursor := q.page()
	return limit, cursor, q.err()
}

// ConsumptionQueryOf reads customer and month (YYYY-MM, required) with
// the names and checks of GET /v1/reports/consumption, refusing any other
// parameter, for the web console's reports page.
func ConsumptionQueryOf(r *http.Request) (ledger.ConsumptionQuery, error) {
	q := readQuery(r, "customer", "month")
	month, err := parseMonth(q.q.Get("month"))
	if err != nil && q.bad == nil {
		q.bad = err
	}
	return ledger.ConsumptionQuery{CustomerID: q.id("customer"), Month: month}, q.err()
}

// RenewalQueryOf reads the query of GET /v1/reports/renewals.
func RenewalQueryOf(r *http.Request) (ledger.RenewalQuery, error) {
	q := readQuery(r, "from", "to", "customer", "limit", "cursor")
	out := ledger.RenewalQuery{From: q.day("from", true), To: q.day("to", true), Customer: q.id("customer")}
	out.Limit, out.Cursor = q.page()
	return out, q.err()
}

// ActiveQueryOf reads the query of GET /v1/reports/active.
func ActiveQueryOf(r *http.Request) (ledger.ActiveQuery, error) {
	q := readQuery(r, "reseller", "day", "limit", "cursor")
	out := ledger.ActiveQuery{Day: q.day("day", true), Reseller: q.id("reseller")}
	out.Limit, out.Cursor = q.page()
	return out, q.err()
}

// CreatedQueryOf reads the query of GET /v1/reports/created.
func CreatedQueryOf(r *http.Request) (ledger.CreatedQuery, error) {
	q := readQuery(r, "customer", "month", "limit", "cursor")
	month, err := parseMonth(q.q.Get("month"))
	if err != nil && q.bad == nil {
		q.bad = err
	}
	out := ledger.CreatedQuery{Customer: q.id("customer"), Month: month}
	out.Limit, out.Cursor = q.page()
	return out, q.err()
}
