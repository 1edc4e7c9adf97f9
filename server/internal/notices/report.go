package notices

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/tollgate-iot/tollgate/server/internal/consumption"
	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/server/internal/mail"
)

// Reports runs a consumption report (the ledger does).
type Reports interface {
	ConsumptionReport(ctx context.Context, a ledger.Actor, q ledger.ConsumptionQuery, sink ledger.ConsumptionSink) (*ledger.ConsumptionTotals, error)
}

// errTooLarge stops a report that would not fit in one attachment.
var errTooLarge = errors.New("report larger than an attachment may be")

// capped is a buffer that refuses to grow past max.
type capped struct {
	bytes.Buffer
	max int
}

func (c *capped) Write(p []byte) (int, error) {
	if c.Len()+len(p) > c.max {
		return 0, errTooLarge
	}
	return c.Buffer.Write(p)
}

// monthlyMessage is the e-mail of a monthly report notice: the customer's
// consumption report of the month as the CSV the API gives
// (consumption.CSV), with its totals in the body. A report past
// mail.MaxAttachmentBytes is not attached; the body says how to fetch it.
func monthlyMessage(ctx context.Context, r Reports, n *ledger.Notice) (mail.Message, error) {
	month := n.Month().UTC().Format("2006-01")
	buf := &capped{max: mail.MaxAttachmentBytes}
	w := consumption.NewCSV(buf, n.CustomerID)
	t, err := r.ConsumptionReport(ctx, ledger.SystemActor(), ledger.ConsumptionQuery{CustomerID: n.CustomerID, Month: n.Month()}, w)
	if err == nil {
		err = w.Finish(t)
	}
	tooLarge := errors.Is(err, errTooLarge)
	if err != nil && !tooLarge {
		return mail.Message{}, fmt.Errorf("notices: report %s %s: %w", n.CustomerID, month, err)
	}
	fetch := "tollgatectl report consumption --customer " + n.CustomerID + " --month " + month + " -o csv"
	text := "The consumption report of " + n.CustomerID + " (and the customers below it) for " + month + ".\n\n"
	if t != nil && !tooLarge {
		text += "Devices:        " + strconv.Itoa(t.Devices) + "\n" +
			"Samples:        " + strconv.FormatInt(t.Samples, 10) + "\n" +
			"Overage:        " + strconv.FormatInt(t.Overage, 10) + "\n" +
			"Refused:        " + strconv.FormatInt(t.Refused.Total(), 10) + "\n" +
			"Days charged:   " + strconv.FormatInt(t.DaysCharged, 10) + "\n" +
			"Days failed:    " + strconv.FormatInt(t.DaysFailed, 10) + "\n\n" +
			"Every device is a row of the attached CSV; the columns are those of " + fetch + ".\n"
	} else {
		text += fmt.Sprintf("The report is larger than %d MiB and is not attached; fetch it with\n  %s\n", mail.MaxAttachmentBytes>>20, fetch)
	}
	text += "\nNotice " + n.ID + "\n"
	m := mail.Message{ID: n.ID, To: n.Email.To, Subject: n.Summary(), Text: text}
	if !tooLarge {
		m.Attachments = []mail.Attachment{{Name: "consumption-" + n.CustomerID + "-" + month + ".csv", ContentType: "text/csv", Data: buf.Bytes()}}
	}
	return m, nil
}
