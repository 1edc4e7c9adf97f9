package ledger

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/shared/syncproto"
)

// TestSyncEventsArise: a forked record, and a failed day an agent
// reports, put their events in the outbox once, however often the same
// report comes again.
func TestSyncEventsArise(t *testing.T) {
	e := newHookEnv(t)
	ids, lics := e.syncFleet(1)
	w := e.webhook(admin("dist"), "dist")
	dev, lic := ids[0], lics[0]
	at := epoch.Add(time.Hour)
	e.clk.Set(epoch.Add(6 * time.Hour))
	failedAt := at.Add(2 * time.Hour).Unix()
	failed := batchReport(dev, lic, at, 1, 5)
	failed.Deductions = append(failed.Deductions, syncproto.Deduction{Seq: 2, LicenseID: lic, At: failedAt, PaidUntil: failedAt, Failed: true})
	for range 2 { // every report twice: a resend makes no event
		for _, r := range []*syncproto.Report{batchReport(dev, lic, at, 1, 5), batchReport(dev, lic, at.Add(time.Minute), 1, 5), failed} {
			if _, err := e.lg.Reconcile(ctx, dev, r); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := []string{EventSyncFork, EventDeviceBlacklisted, EventDeductionFailed, EventSyncOverdraft}
	if got := e.deliveries(w); !slices.Equal(got, want) {
		t.Fatalf("events\n got %v\nwant %v", got, want)
	}
	due, err := e.lg.DueDeliveries(ctx, 10)
	if err != nil || len(due) != len(want) {
		t.Fatalf("due %d, %v", len(due), err)
	}
	var ev struct {
		CustomerID string          `json:"customer_id"`
		Data       DeviceEventData `json:"data"`
	}
	i := slices.IndexFunc(due, func(d DueDelivery) bool { return d.Delivery.EventType == EventSyncOverdraft })
	if err := json.Unmarshal(due[i].Body, &ev); err != nil || ev.CustomerID != "acme" || ev.Data.DeviceID != dev || ev.Data.Seq != 2 {
		t.Fatalf("overdraft event %s (%v)", due[i].Body, err)
	}
}

// TestRenewalEvent: the scheduler's renewal makes one license.renewed
// per new period, with the period in its data.
func TestRenewalEvent(t *testing.T) {
	e := newHookEnv(t)
	dist, acme, _, _ := e.tree()
	w := e.webhook(acme, "acme", EventLicenseRenewed)
	e.device(acme, "acme", "dev-1", "sensor-a")
	in := std("acme")
	in.Months = 1
	l := e.create(dist, in)
	e.bind(acme, l.ID, "dev-1")
	e.clk.Set(date(2026, 6, 1)) // April and May have ended: two renewals in one catch-up
	for range 2 {
		if _, _, err := e.lg.ApplyDue(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := e.deliveries(w); !slices.Equal(got, []string{EventLicenseRenewed, EventLicenseRenewed}) {
		t.Fatalf("events %v", got)
	}
	due, _ := e.lg.DueDeliveries(ctx, 10)
	starts := map[string]bool{}
	for _, d := range due {
		var ev struct{ Data LicenseEventData }
		if json.Unmarshal(d.Body, &ev) != nil || ev.Data.LicenseID != l.ID || ev.Data.PeriodEnd == "" {
			t.Fatalf("renewal event %s", d.Body)
		}
		starts[ev.Data.PeriodStart] = true
	}
	if len(due) != 2 || !starts["2026-05-01T00:00:00Z"] || !starts["2026-06-01T00:00:00Z"] {
		t.Fatalf("renewed periods %v", starts)
	}
}

// TestNoticeEventsToWebhooks: each expiry notice the scheduler issues is
// also a webhook event of the owner's chain — four license.expiring, then
// license.expired for the end and the reminder — and a sibling hears none.
func TestNoticeEventsToWebhooks(t *testing.T) {
	e := newHookEnv(t)
	dist, _, _, beta := e.tree()
	wd := e.webhook(dist, "dist", EventLicenseExpiring, EventLicenseExpired)
	wb := e.webhook(beta, "beta", EventLicenseExpiring, EventLicenseExpired) // (its own monthly reports aside)
	l := e.create(dist, renewOff("acme", 12))
	e.walkNotices(Day, l.End.Add(3*Day))
	e.walkNotices(Day, l.End.Add(6*Day)) // nothing more to issue
	want := []string{EventLicenseExpiring, EventLicenseExpiring, EventLicenseExpiring, EventLicenseExpiring, EventLicenseExpired, EventLicenseExpired}
	if got := e.deliveries(wd); !slices.Equal(got, want) {
		t.Fatalf("distributor's endpoint\n got %v\nwant %v", got, want)
	}
	if got := e.deliveries(wb); len(got) != 0 {
		t.Fatalf("sibling's endpoint got %v", got)
	}
	due, _ := e.lg.DueDeliveries(ctx, 10)
	kinds := map[string]bool{}
	for _, d := range due {
		var ev struct{ Data NoticeEventData }
		if json.Unmarshal(d.Body, &ev) != nil || ev.Data.LicenseID != l.ID || ev.Data.NoticeID == "" || ev.Data.End != l.End.Format(time.RFC3339) {
			t.Fatalf("notice event %s", d.Body)
		}
		kinds[ev.Data.NoticeKind] = true
	}
	if len(kinds) != 6 || !kinds[NoticeReminder] {
		t.Fatalf("notice kinds %v", kinds)
	}
}
