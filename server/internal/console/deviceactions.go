package console

import (
	"net/http"

	"github.com/tollgate-iot/tollgate/server/internal/ledger"
)

// Blacklisting and clearing a device from its page: the same
// ledger.SetBlacklist as POST /v1/devices/{id}/blacklist and
// /v1/devices/{id}/unblacklist, as the signed-in actor. Both change what
// the device may do at its next sync, so both ask to confirm first: the
// first post shows the confirm page, the second (confirm=yes) acts and
// returns to the device page.

// deviceDone are the notices a device page shows after an action (?done=).
var deviceDone = map[string]string{
	"blacklist":   "Blacklisted: the device is refused at its next sync.",
	"unblacklist": "Cleared: the device is no longer blacklisted.",
}

type deviceActionData struct {
	Device *ledger.Device
	// Action is "blacklist" or "unblacklist"; Reason the reason given.
	Action, Reason string
	MaxReason      int
}

// deviceBlacklist returns the handler of a blacklist (on) or clear post.
func (c *Console) deviceBlacklist(on bool) func(http.ResponseWriter, *http.Request, *ledger.Session) {
	action := "unblacklist"
	if on {
		action = "blacklist"
	}
	return func(w http.ResponseWriter, r *http.Request, s *ledger.Session) {
		dev, err := c.lg.GetDevice(r.Context(), s.Actor, r.PathValue("id"))
		if err != nil {
			c.failErr(w, r, s, err)
			return
		}
		d := deviceActionData{Device: dev, Action: action, MaxReason: ledger.MaxReasonLen}
		if on {
			d.Reason = r.PostForm.Get("reason")
		}
		if r.PostForm.Get("confirm") != "yes" {
			c.render(w, http.StatusOK, "device-action", page{Title: "Confirm: " + action + " " + dev.ID, Session: s, Data: d})
			return
		}
		if _, err := c.lg.SetBlacklist(r.Context(), s.Actor, dev.ID, on, d.Reason); err != nil {
			status, code, msg := describe(err)
			if status == http.StatusInternalServerError {
				c.failErr(w, r, s, err)
				return
			}
			c.render(w, status, "device-action", page{Title: action + " " + dev.ID, Session: s, Data: d,
				Error: &pageError{Status: status, Code: code, Message: msg}})
			return
		}
		http.Redirect(w, r, Prefix+"devices/"+dev.ID+"?done="+action, http.StatusSeeOther)
	}
}
