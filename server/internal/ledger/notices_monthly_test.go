package ledger

import (
	"errors"
	"slices"
	"testing"
	"time"
)

// TestMonthlyReportNoticesFromTheFirst: on the 1st every customer that
// existed in the month before and has a report e-mail gets one report
// notice of that month, to its own address only; later passes add
// nothing; a sibling cannot read another's.
func TestMonthlyReportNoticesFromTheFirst(t *testing.T) {
	e := newEnv(t)
	e.lg.mail = true
	dist, acme, _, beta := e.tree() // created on March 14th
	if n, err := e.lg.IssueNotices(ctx); err != nil || n != 0 {
		t.Fatalf("March 14th: %d notices (customers made in March have no February report), %v", n, err)
	}
	april := time.Date(2026, 4, 1, 0, 0, 30, 0, time.UTC)
	e.clk.Set(april)
	n, err := e.lg.IssueNotices(ctx)
	if err != nil || n != 5 { // root, dist, acme, acme-sub, beta
		t.Fatalf("April 1st: %d notices, %v", n, err)
	}
	if n, _ := e.lg.IssueNotices(ctx); n != 0 {
		t.Fatalf("a second pass issued %d more", n)
	}
	ns, err := e.lg.ListCustomerNotices(ctx, dist, "acme")
	if err != nil || len(ns) != 1 {
		t.Fatalf("acme's notices read by dist: %+v, %v", ns, err)
	}
	r := ns[0]
	if r.Kind != NoticeMonthlyReport || !r.Month().Equal(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)) ||
		!slices.Equal(r.Email.To, []string{"acme@example.test"}) || r.Email.State != EmailPending ||
		r.Summary() != "Consumption report 2026-03 for acme" {
		t.Fatalf("report notice %+v (%q)", r, r.Summary())
	}
	if _, err := e.lg.ListCustomerNotices(ctx, beta, "acme"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("sibling reading acme's notices: %v", err)
	}
	if ns, _ := e.lg.ListCustomerNotices(ctx, acme, "acme"); len(ns) != 1 {
		t.Fatalf("acme reads %d of its own", len(ns))
	}
	// A report is never void: claiming it returns it.
	jobs, err := e.lg.ClaimEmails(ctx, 10)
	if err != nil || len(jobs) != 5 {
		t.Fatalf("claimed %d report e-mails, %v", len(jobs), err)
	}
	e.clk.Set(april.AddDate(0, 1, 0))
	if n, _ := e.lg.IssueNotices(ctx); n != 5 {
		t.Fatalf("May 1st: %d notices", n)
	}
}

// TestMonthlyReportEventToWebhooks: the report.monthly event of each
// customer reaches its own endpoints and its superiors': the distributor
// hears of its own and its three customers' (acme, acme-sub, beta)
// reports, beta only of its own — also of a customer without a report
// e-mail.
func TestMonthlyReportEventToWebhooks(t *testing.T) {
	e := newHookEnv(t)
	dist, _, _, beta := e.tree()
	if _, err := e.lg.UpdateCustomer(ctx, admin("acme"), "acme", CustomerUpdate{Email: new(string)}); err != nil {
		t.Fatal(err)
	}
	wd := e.webhook(dist, "dist", EventReportMonthly)
	wb := e.webhook(beta, "beta")
	e.clk.Set(time.Date(2026, 4, 1, 0, 0, 30, 0, time.UTC))
	if _, err := e.lg.IssueNotices(ctx); err != nil {
		t.Fatal(err)
	}
	if got := e.deliveries(wd); len(got) != 4 {
		t.Fatalf("distributor's endpoint got %v, want 4 report.monthly", got)
	}
	if got := e.deliveries(wb); !slices.Equal(got, []string{EventReportMonthly}) {
		t.Fatalf("beta's endpoint got %v", got)
	}
	ns, _ := e.lg.ListCustomerNotices(ctx, dist, "acme")
	if len(ns) != 1 || ns[0].Email.State != EmailUndelivered {
		t.Fatalf("acme (no address, no SMTP) has %+v", ns)
	}
}
