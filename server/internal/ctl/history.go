package ctl

import (
	"context"
	"flag"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate-iot/tollgate/shared/cli"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// The column names of the history and report tables (and of their CSV
// header rows): docs/reports.md documents them, scripts rely on them.
var (
	historyHeader = []string{"SEQ", "AT", "KIND", "FROM", "TO", "PERIOD_START", "PERIOD_END", "DAYS_ADDED",
		"STATUS", "CUSTOMER", "DEVICE", "BY", "USER", "ACTOR_OF", "ACTION"}
	renewalHeader = []string{"LICENSE", "SERIAL", "CUSTOMER", "CHAIN", "MONTHS", "PERIOD_START", "PERIOD_END", "RECORDED_AT", "DISTRIBUTOR_DESCRIPTION"}
	activeHeader  = []string{"LICENSE", "SERIAL", "CUSTOMER", "CHAIN", "TYPE", "BILLING", "DEVICE", "DISTRIBUTOR_DESCRIPTION"}
	createdHeader = []string{"CREATED_AT", "LICENSE", "SERIAL", "ISSUED_BY", "CREATED_FOR", "TYPE", "BILLING", "MONTHS", "DAYS", "RATE", "STATUS", "OWNER", "DISTRIBUTOR_DESCRIPTION"}
)

func runLicenseHistory(ctx context.Context, x *invocation) error {
	var l wire.HistoryList
	path := "/v1/licenses/" + esc(x.args[0]) + "/history"
	if q := x.query(); q != "" {
		path += "?" + q
	}
	if err := x.c.Do(ctx, "GET", path, nil, &l); err != nil {
		return err
	}
	rows := make([][]string, len(l.Entries))
	for i := range l.Entries {
		e := &l.Entries[i]
		days := "-"
		if e.DaysAdded != 0 {
			days = strconv.FormatInt(e.DaysAdded, 10)
		}
		rows[i] = []string{strconv.FormatInt(e.Seq, 10), e.At.UTC().Format(time.RFC3339), e.Kind, dash(e.From), dash(e.To),
			day(e.PeriodStart), day(e.PeriodEnd), days, e.Status, e.CustomerID, dash(e.DeviceID), e.By, e.UserID, dash(e.ActorOf), dash(e.Action)}
	}
	x.more(l.NextCursor)
	return cli.Render(x.out, x.format, l, historyHeader, rows)
}

func runReportRenewals(ctx context.Context, x *invocation) error {
	var r wire.RenewalReport
	if err := x.c.Do(ctx, "GET", "/v1/reports/renewals?"+x.query("from", "to", "customer"), nil, &r); err != nil {
		return err
	}
	rows := make([][]string, len(r.Renewals))
	for i := range r.Renewals {
		n := &r.Renewals[i]
		rows[i] = []string{n.LicenseID, n.Serial, n.CustomerID, strings.Join(n.Chain, ">"), strconv.Itoa(n.Months),
			day(&n.PeriodStart), day(&n.PeriodEnd), day(&n.RecordedAt), dash(n.DistributorDescription)}
	}
	x.more(r.NextCursor)
	return cli.Render(x.out, x.format, r, renewalHeader, rows)
}

func runReportActive(ctx context.Context, x *invocation) error {
	var r wire.ActiveReport
	if err := x.c.Do(ctx, "GET", "/v1/reports/active?"+x.query("reseller", "day"), nil, &r); err != nil {
		return err
	}
	rows := make([][]string, len(r.Licenses))
	for i := range r.Licenses {
		l := &r.Licenses[i]
		rows[i] = []string{l.LicenseID, l.Serial, l.CustomerID, strings.Join(l.Chain, ">"), l.Type, l.Billing, dash(l.DeviceID), dash(l.DistributorDescription)}
	}
	x.more(r.NextCursor)
	return cli.Render(x.out, x.format, r, activeHeader, rows)
}

func reportRenewalsFlags(fs *flag.FlagSet, v *vals) {
	pageFlags()(fs, v)
	v.str(fs, "from", "first day of the period, YYYY-MM-DD (UTC, inclusive)")
	v.str(fs, "to", "day after the period, YYYY-MM-DD (UTC, exclusive)")
	v.str(fs, "customer", "the customer whose subtree to report (default: yours)")
}

func reportActiveFlags(fs *flag.FlagSet, v *vals) {
	pageFlags()(fs, v)
	v.str(fs, "reseller", "the customer whose subtree to report (default: yours)")
	v.str(fs, "day", "the day, YYYY-MM-DD (UTC)")
}

func runReportCreated(ctx context.Context, x *invocation) error {
	var r wire.CreatedReport
	if err := x.c.Do(ctx, "GET", "/v1/reports/created?"+x.query("month", "customer"), nil, &r); err != nil {
		return err
	}
	rows := make([][]string, len(r.Licenses))
	for i := range r.Licenses {
		l := &r.Licenses[i]
		rows[i] = []string{l.CreatedAt.UTC().Format(time.RFC3339), l.LicenseID, l.Serial, l.IssuedBy, l.CreatedFor, l.Type, l.Billing,
			strconv.Itoa(l.Months), strconv.FormatInt(l.Days, 10), strconv.FormatInt(l.MaxSamplesPerHour, 10), l.Status, l.CustomerID,
			dash(l.DistributorDescription)}
	}
	x.more(r.NextCursor)
	return cli.Render(x.out, x.format, r, createdHeader, rows)
}

func reportCreatedFlags(fs *flag.FlagSet, v *vals) {
	pageFlags()(fs, v)
	v.str(fs, "month", "the month, YYYY-MM (UTC)")
	v.str(fs, "customer", "the issuer to report, with the issuers below it (default: yours)")
}

// noticeHeader are the columns of license notices.
var noticeHeader = []string{"ISSUED_AT", "KIND", "END", "DUE_AT", "EMAIL", "ATTEMPTS", "TO", "COLLAPSED", "ID"}

func runLicenseNotices(ctx context.Context, x *invocation) error {
	var l wire.NoticeList
	if err := x.c.Do(ctx, "GET", "/v1/licenses/"+esc(x.args[0])+"/notices", nil, &l); err != nil {
		return err
	}
	rows := make([][]string, len(l.Notices))
	for i := range l.Notices {
		n := &l.Notices[i]
		rows[i] = []string{n.IssuedAt.UTC().Format(time.RFC3339), n.Kind, day(&n.End), n.DueAt.UTC().Format(time.RFC3339), n.Email.State,
			strconv.Itoa(n.Email.Attempts), dash(strings.Join(n.Email.To, " ")), dash(strings.Join(n.Collapsed, " ")), n.ID}
	}
	return cli.Render(x.out, x.format, l, noticeHeader, rows)
}
