package console

import (
	"net/http"
	"strings"

	"github.com/tollgate-iot/tollgate/server/internal/api"
	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// The customer page and its people. Every action calls the ledger method
// of its API endpoint as the signed-in actor — POST /v1/customers, GET and
// PATCH /v1/customers/{id}, GET and POST /v1/users, POST
// /v1/users/{id}/revoke and …/reset-password — so the ledger's rules
// decide (who may manage, who may switch allow_superior_manage, who may set
// the VAT number, which roles exist), and a customer the actor does not see
// is not_found. Invitation links are answered, and e-mailed with --smtp,
// exactly as the API answers them (api.InvitationOf).

func (c *Console) routesCustomersPeople(m *http.ServeMux) {
	m.HandleFunc("POST /console/customers", c.authed(c.createCustomer))
	m.HandleFunc("GET /console/customers/{id}", c.authed(c.customerPage))
	m.HandleFunc("POST /console/customers/{id}", c.authed(c.updateCustomer))
	m.HandleFunc("POST /console/customers/{id}/users", c.authed(c.inviteUser))
	m.HandleFunc("POST /console/users/{id}/reset", c.authed(c.resetUser))
	m.HandleFunc("POST /console/users/{id}/revoke", c.authed(c.revokeUser))
}

type customerData struct {
	Customer *ledger.Customer
	Users    []ledger.User
	Roles    []ledger.Role
	// Done names what an action did ("" for none); Invitation is a new
	// invitation (shown once) and InvitedEmail its person; Confirm is a
	// user to confirm revoking.
	Done         string
	Invitation   *wire.Invitation
	InvitedEmail string
	Confirm      *ledger.User
	PublicBase   string
}

// customerNotices are the notices after a redirect, by ?done=.
var customerNotices = map[string]string{
	"created": "Customer created.",
	"saved":   "Saved.",
	"revoked": "Revoked: the user's API key and console sign-in no longer work.",
}

var consoleRoles = []ledger.Role{ledger.RoleViewer, ledger.RoleOperator, ledger.RoleAdmin}

// customerView renders customer id's page; pe is a refusal shown above it.
func (c *Console) customerView(w http.ResponseWriter, r *http.Request, s *ledger.Session, id string, status int, pe *pageError, d customerData) {
	cust, err := c.lg.GetCustomer(r.Context(), s.Actor, id)
	if err != nil {
		c.failErr(w, r, s, err)
		return
	}
	users, err := c.lg.ListUsers(r.Context(), s.Actor, cust.ID)
	if err != nil && !isRefusal(err) {
		c.failErr(w, r, s, err)
		return
	}
	d.Customer, d.Users, d.Roles = cust, users, consoleRoles
	c.render(w, status, "customer", page{Title: "Customer " + cust.Name, Session: s, Data: d, Error: pe})
}

// isRefusal reports an error the API answers below 500: the ledger said
// no (a viewer may not list users, for one), which the page shows instead
// of failing.
func isRefusal(err error) bool {
	status, _, _ := describe(err)
	return status < http.StatusInternalServerError
}

// refuse shows a ledger refusal on the customer page, or fails.
func (c *Console) refuse(w http.ResponseWriter, r *http.Request, s *ledger.Session, id string, err error) {
	status, code, msg := describe(err)
	if status == http.StatusInternalServerError || status == http.StatusNotFound {
		c.failErr(w, r, s, err)
		return
	}
	c.customerView(w, r, s, id, status, &pageError{Status: status, Code: code, Message: msg}, customerData{})
}

func (c *Console) customerPage(w http.ResponseWriter, r *http.Request, s *ledger.Session) {
	c.customerView(w, r, s, r.PathValue("id"), http.StatusOK, nil, customerData{Done: customerNotices[r.URL.Query().Get("done")]})
}

func (c *Console) createCustomer(w http.ResponseWriter, r *http.Request, s *ledger.Session) {
	f := r.PostForm
	in := ledger.CustomerInput{ID: strings.TrimSpace(f.Get("id")), Name: strings.TrimSpace(f.Get("name")),
		ParentID: f.Get("parent"), Email: strings.TrimSpace(f.Get("email"))}
	cust, err := c.lg.CreateCustomer(r.Context(), s.Actor, in)
	if err != nil {
		parent := in.ParentID
		if parent == "" {
			parent = s.Actor.CustomerID
		}
		c.refuse(w, r, s, parent, err)
		return
	}
	http.Redirect(w, r, Prefix+"customers/"+cust.ID+"?done=created", http.StatusSeeOther)
}

// updateCustomer sends only what the form changed: the ledger refuses a
// field the actor may not set (allow_superior_manage is the customer's own
// consent; the VAT number is the parent's), so an unchanged one must not
// count as set.
func (c *Console) updateCustomer(w http.ResponseWriter, r *http.Request, s *ledger.Session) {
	id := r.PathValue("id")
	cur, err := c.lg.GetCustomer(r.Context(), s.Actor, id)
	if err != nil {
		c.failErr(w, r, s, err)
		return
	}
	f := r.PostForm
	var u ledger.CustomerUpdate
	changed := func(field, now string) *string {
		if _, ok := f[field]; !ok {
			return nil
		}
		if v := strings.TrimSpace(f.Get(field)); v != now {
			return &v
		}
		return nil
	}
	u.Name, u.Email, u.Address, u.VAT = changed("name", cur.Name), changed("email", cur.Email), changed("address", cur.Address), changed("vat", cur.VAT)
	if _, ok := f["allow_superior_manage_set"]; ok {
		if on := f.Get("allow_superior_manage") == "on"; on != cur.AllowSuperiorManage {
			u.AllowSuperiorManage = &on
		}
	}
	if _, err := c.lg.UpdateCustomer(r.Context(), s.Actor, id, u); err != nil {
		c.refuse(w, r, s, id, err)
		return
	}
	http.Redirect(w, r, Prefix+"customers/"+id+"?done=saved", http.StatusSeeOther)
}

func (c *Console) inviteUser(w http.ResponseWriter, r *http.Request, s *ledger.Session) {
	id := r.PathValue("id")
	email := strings.TrimSpace(r.PostForm.Get("email"))
	_, _, inv, err := c.lg.CreatePerson(r.Context(), s.Actor, id, email, ledger.Role(r.PostForm.Get("role")))
	if err != nil {
		c.refuse(w, r, s, id, err)
		return
	}
	iw := api.InvitationOf(r.Context(), c.invite, c.log, inv)
	c.customerView(w, r, s, id, http.StatusCreated, nil, customerData{Done: "Invited.", Invitation: &iw, InvitedEmail: email, PublicBase: c.publicBase(r)})
}

// userOf finds user id among those of the actor's view of customer
// (the form names it), or nil.
func (c *Console) userOf(r *http.Request, s *ledger.Session, id string) (*ledger.User, error) {
	users, err := c.lg.ListUsers(r.Context(), s.Actor, r.PostForm.Get("customer"))
	if err != nil {
		return nil, err
	}
	for i := range users {
		if users[i].ID == id {
			return &users[i], nil
		}
	}
	return nil, ledger.ErrNotFound
}

func (c *Console) resetUser(w http.ResponseWriter, r *http.Request, s *ledger.Session) {
	id := r.PathValue("id")
	inv, err := c.lg.Invite(r.Context(), s.Actor, id)
	if err != nil {
		c.failErr(w, r, s, err)
		return
	}
	u, err := c.userOf(r, s, id)
	if err != nil {
		c.failErr(w, r, s, err)
		return
	}
	iw := api.InvitationOf(r.Context(), c.invite, c.log, inv)
	c.customerView(w, r, s, u.CustomerID, http.StatusOK, nil, customerData{Done: "A new invitation link.", Invitation: &iw, InvitedEmail: u.Email, PublicBase: c.publicBase(r)})
}

// revokeUser asks to confirm first; then revokes the user's API key and
// console access (as POST /v1/users/{id}/revoke).
func (c *Console) revokeUser(w http.ResponseWriter, r *http.Request, s *ledger.Session) {
	id := r.PathValue("id")
	u, err := c.userOf(r, s, id)
	if err != nil {
		c.failErr(w, r, s, err)
		return
	}
	if r.PostForm.Get("confirm") != "yes" {
		c.customerView(w, r, s, u.CustomerID, http.StatusOK, nil, customerData{Confirm: u})
		return
	}
	if _, err := c.lg.RevokeUser(r.Context(), s.Actor, id); err != nil {
		c.refuse(w, r, s, u.CustomerID, err)
		return
	}
	http.Redirect(w, r, Prefix+"customers/"+u.CustomerID+"?done=revoked", http.StatusSeeOther)
}

// publicBase is where the invitation link is reached: the request's own
// scheme and host (the person signed in through it).
func (c *Console) publicBase(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
