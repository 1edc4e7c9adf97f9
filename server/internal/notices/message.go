package notices

import (
	"bytes"
	"html/template"
	"strings"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/server/internal/mail"
)

// what tells the reader what the notice means for it.
var what = map[string]string{
	ledger.NoticeExpiring30: "The license will stop working at its end. Renew it, or ask your distributor to, before then.",
	ledger.NoticeExpiring15: "The license will stop working at its end. Renew it, or ask your distributor to, before then.",
	ledger.NoticeExpiring7:  "The license will stop working at its end. Renew it, or ask your distributor to, before then.",
	ledger.NoticeExpiring1:  "The license stops working tomorrow. Renew it, or ask your distributor to, today.",
	ledger.NoticeEnded:      "The license has reached its end: the device it is bound to stops sending telemetry under it.",
	ledger.NoticeReminder:   "The license ended yesterday. A new license or a renewal brings the device back.",
	ledger.NoticeDays30:     "At one day charged every 24 hours, the license's paid time and days run out then. Add days to keep the device running.",
	ledger.NoticeDays7:      "At one day charged every 24 hours, the license's paid time and days run out then. Add days to keep the device running.",
	ledger.NoticeWebhookDisabled: "Tollgate stopped calling the endpoint: every delivery to it failed for days. " +
		"Fix the receiver, then create a new endpoint (tollgatectl webhook create); its events since are in tollgatectl webhook deliveries.",
	ledger.NoticeDeductionFailed: "No license bound to the device had a day left to pay: the device blacklisted itself and sends no telemetry. " +
		"Add days to its license (or bind one with days), then clear the blacklist (tollgatectl device unblacklist DEVICE).",
}

var htmlBody = template.Must(template.New("notice").Parse(`<!doctype html>
<html><body>
<p>{{.Summary}}.</p>
<p>{{.What}}</p>
<table>
{{if .LicenseID}}<tr><th align="left">License</th><td>{{.Serial}} ({{.LicenseID}})</td></tr>{{end}}
<tr><th align="left">Customer</th><td>{{.CustomerID}}</td></tr>
{{if .DeviceID}}<tr><th align="left">Device</th><td>{{.DeviceID}}</td></tr>{{end}}
<tr><th align="left">{{.EndLabel}}</th><td>{{.End}}</td></tr>
</table>
<p>Notice {{.ID}}</p>
</body></html>
`))

type view struct {
	Summary, What, Serial, LicenseID, CustomerID, DeviceID, EndLabel, End, ID string
}

// Message renders a notice as an e-mail: plain text and HTML with the
// same facts; the notice id is the message's identity.
func Message(n *ledger.Notice) mail.Message {
	v := view{Summary: n.Summary(), What: what[n.Kind], Serial: n.Serial, LicenseID: n.LicenseID, CustomerID: n.CustomerID,
		DeviceID: n.DeviceID, EndLabel: "End", End: n.End.UTC().Format(time.RFC1123), ID: n.ID}
	switch n.Kind {
	case ledger.NoticeDeductionFailed:
		v.EndLabel = "Day"
	case ledger.NoticeWebhookDisabled:
		v.EndLabel = "Disabled"
	}
	var text strings.Builder
	text.WriteString(v.Summary + ".\n\n" + v.What + "\n\n")
	if v.LicenseID != "" {
		text.WriteString("License:  " + v.Serial + " (" + v.LicenseID + ")\n")
	}
	text.WriteString("Customer: " + v.CustomerID + "\n")
	if v.DeviceID != "" {
		text.WriteString("Device:   " + v.DeviceID + "\n")
	}
	text.WriteString(v.EndLabel + ":" + strings.Repeat(" ", 9-len(v.EndLabel)) + v.End + "\n\nNotice " + v.ID + "\n")
	var html bytes.Buffer
	if err := htmlBody.Execute(&html, v); err != nil {
		html.Reset() // the text part alone still says everything
	}
	return mail.Message{ID: n.ID, To: n.Email.To, Subject: v.Summary, Text: text.String(), HTML: html.String()}
}
