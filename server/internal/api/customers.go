package api

import (
	"net/http"

	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

func (a *API) whoami(w http.ResponseWriter, r *http.Request) {
	act := actor(r)
	a.render(w, http.StatusOK, wire.WhoAmI{UserID: act.UserID, CustomerID: act.CustomerID, Role: string(act.Role)})
}

func (a *API) createCustomer(w http.ResponseWriter, r *http.Request) {
	var req wire.CreateCustomerRequest
	if err := decode(w, r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	c, err := a.lg.CreateCustomer(r.Context(), actor(r), ledger.CustomerInput{ID: req.ID, Name: req.Name,
		ParentID: req.ParentID, Email: req.Email, Address: req.Address, VAT: req.VAT})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.render(w, http.StatusCreated, toCustomer(c))
}

func (a *API) listCustomers(w http.ResponseWriter, r *http.Request) {
	q := readQuery(r, "parent", "limit", "cursor")
	parent := q.id("parent")
	limit, cursor := q.page()
	if err := q.err(); err != nil {
		a.fail(w, r, err)
		return
	}
	cs, next, err := a.lg.ListCustomers(r.Context(), actor(r), parent, cursor, ledger.PageLimit(limit))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := wire.CustomerList{Customers: make([]wire.Customer, len(cs)), NextCursor: encCursor(next)}
	for i := range cs {
		out.Customers[i] = toCustomer(&cs[i])
	}
	a.render(w, http.StatusOK, out)
}

func (a *API) getCustomer(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	c, err := a.lg.GetCustomer(r.Context(), actor(r), id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.render(w, http.StatusOK, toCustomer(c))
}

func (a *API) updateCustomer(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var req wire.UpdateCustomerRequest
	if err := decode(w, r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	u := ledger.CustomerUpdate{Name: req.Name, Email: req.Email, Address: req.Address, VAT: req.VAT,
		AllowSuperiorManage: req.AllowSuperiorManage}
	if req.Issuer != nil || req.AllowedMonths != nil || req.MaxDays != nil {
		u.Issuer = &ledger.IssuerUpdate{Issuer: req.Issuer, AllowedMonths: req.AllowedMonths, MaxDays: req.MaxDays}
	}
	c, err := a.lg.UpdateCustomer(r.Context(), actor(r), id, u)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.render(w, http.StatusOK, toCustomer(c))
}

func (a *API) createUser(w http.ResponseWriter, r *http.Request) {
	var req wire.CreateUserRequest
	if err := decode(w, r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	u, key, inv, err := a.lg.CreatePerson(r.Context(), actor(r), req.CustomerID, req.Email, ledger.Role(req.Role))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	a.render(w, http.StatusCreated, wire.CreateUserResponse{User: toUser(u), APIKey: key, Invitation: a.invitationWire(r.Context(), inv)})
}

func (a *API) listUsers(w http.ResponseWriter, r *http.Request) {
	q := readQuery(r, "customer")
	cust := q.id("customer")
	if err := q.err(); err != nil {
		a.fail(w, r, err)
		return
	}
	us, err := a.lg.ListUsers(r.Context(), actor(r), cust)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := wire.UserList{Users: make([]wire.User, len(us))}
	for i := range us {
		out.Users[i] = toUser(&us[i])
	}
	a.render(w, http.StatusOK, out)
}

func (a *API) revokeUser(w http.ResponseWriter, r *http.Request) {
	id, err := actionID(w, r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	u, err := a.lg.RevokeUser(r.Context(), actor(r), id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.render(w, http.StatusOK, toUser(u))
}
