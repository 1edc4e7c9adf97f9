package console

import (
	"net/http"

	"github.com/tollgate-iot/tollgate/server/internal/ledger"
)

// The license page's forms call what POST /v1/licenses/{id}/bind and
// POST /v1/licenses/{id}/unbind call, as the signed-in actor.

// doneNotices are the notices a license page shows after an action
// (?done=…); other values show nothing.
var doneNotices = map[string]string{
	"bind":   "Bound.",
	"unbind": "Unbound: the license is free for another device.",
}

// bind binds the license to the device of the form. Bind is not
// destructive, so there is no confirm step.
func (c *Console) bind(w http.ResponseWriter, r *http.Request, s *ledger.Session) {
	id := r.PathValue("id")
	res, err := c.lg.Bind(r.Context(), s.Actor, id, ledger.BindInput{DeviceID: r.PostForm.Get("device"),
		ExpireReplaced: r.PostForm.Get("expire_replaced") == "yes"})
	if err != nil {
		c.licenseRefused(w, r, s, id, err, "")
		return
	}
	http.Redirect(w, r, Prefix+"licenses/"+res.License.ID+"?done=bind", http.StatusSeeOther)
}

// unbind frees the license from its device in two steps: the first post
// asks to confirm, the second (confirm=yes) unbinds.
func (c *Console) unbind(w http.ResponseWriter, r *http.Request, s *ledger.Session) {
	id := r.PathValue("id")
	if r.PostForm.Get("confirm") != "yes" {
		c.licensePage(w, r, s, id, http.StatusOK, nil, "unbind")
		return
	}
	l, err := c.lg.Unbind(r.Context(), s.Actor, id)
	if err != nil {
		c.licenseRefused(w, r, s, id, err, "")
		return
	}
	http.Redirect(w, r, Prefix+"licenses/"+l.ID+"?done=unbind", http.StatusSeeOther)
}

// licenseRefused shows the license page with err's code and message, or
// the error page when the license itself cannot be shown.
func (c *Console) licenseRefused(w http.ResponseWriter, r *http.Request, s *ledger.Session, id string, err error, confirm string) {
	status, code, msg := describe(err)
	if status == http.StatusInternalServerError {
		c.failErr(w, r, s, err)
		return
	}
	c.licensePage(w, r, s, id, status, &pageError{Status: status, Code: code, Message: msg}, confirm)
}
