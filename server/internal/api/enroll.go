package api

import (
	"net/http"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// createEnrollment is POST /v1/enrollments: an admin who manages the
// customer makes an enrollment code; the answer carries the code, once.
func (a *API) createEnrollment(w http.ResponseWriter, r *http.Request) {
	var req wire.CreateEnrollmentRequest
	if err := decode(w, r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	in := ledger.EnrollmentInput{CustomerID: req.CustomerID, Models: req.Models, MaxUses: req.Uses,
		ExpiresIn: time.Duration(req.ExpiresInSeconds) * time.Second, LicensePool: req.LicensePool}
	e, code, err := a.lg.CreateEnrollment(r.Context(), actor(r), in)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := a.toEnrollment(e)
	out.Code = code
	w.Header().Set("Cache-Control", "no-store")
	a.render(w, http.StatusCreated, out)
}

// listEnrollments is GET /v1/enrollments?customer=ID (default: the caller's).
func (a *API) listEnrollments(w http.ResponseWriter, r *http.Request) {
	q := readQuery(r, "customer")
	cust := q.id("customer")
	if err := q.err(); err != nil {
		a.fail(w, r, err)
		return
	}
	es, err := a.lg.ListEnrollments(r.Context(), actor(r), cust)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := wire.EnrollmentList{Enrollments: make([]wire.Enrollment, len(es))}
	for i := range es {
		out.Enrollments[i] = a.toEnrollment(&es[i])
	}
	a.render(w, http.StatusOK, out)
}

// revokeEnrollment is POST /v1/enrollments/{id}/revoke.
func (a *API) revokeEnrollment(w http.ResponseWriter, r *http.Request) {
	id, err := actionID(w, r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	e, err := a.lg.RevokeEnrollment(r.Context(), actor(r), id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.render(w, http.StatusOK, a.toEnrollment(e))
}

func (a *API) toEnrollment(e *ledger.Enrollment) wire.Enrollment {
	return wire.Enrollment{ID: e.ID, CustomerID: e.CustomerID, Models: e.Models, Uses: e.Uses, MaxUses: e.MaxUses,
		ExpiresAt: timePtr(e.ExpiresAt), LicensePool: e.LicensePool, Revoked: e.Revoked, Status: e.State(a.clock.Now()),
		Hint: e.Hint, CreatedAt: e.CreatedAt, CreatedBy: e.CreatedBy}
}
