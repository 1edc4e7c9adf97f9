package ledger

import (
	"context"
	"encoding/base64"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/egress"
)

// fakeDNS resolves *.example.test to a public documentation address,
// rebind.example.test to a private one, localhost to loopback.
func fakeDNS(_ context.Context, host string) ([]netip.Addr, error) {
	switch {
	case host == "localhost":
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	case host == "rebind.example.test":
		return []netip.Addr{netip.MustParseAddr("203.0.113.7"), netip.MustParseAddr("10.1.2.3")}, nil
	case strings.HasSuffix(host, ".example.test"):
		return []netip.Addr{netip.MustParseAddr("203.0.113.7")}, nil
	}
	return nil, errors.New("no such host")
}

func newHookEnv(t *testing.T) *env {
	e := newEnv(t)
	e.lg.egress = egress.Guard{Lookup: fakeDNS}
	return e
}

func (e *env) webhook(a Actor, customer string, events ...string) *Webhook {
	e.t.Helper()
	if len(events) == 0 {
		events = EventTypes
	}
	w, secret, err := e.lg.CreateWebhook(ctx, a, customer, "https://"+customer+".example.test/hook", events)
	if err != nil {
		e.t.Fatalf("CreateWebhook %s: %v", customer, err)
	}
	if !strings.HasPrefix(secret, "whsec_") {
		e.t.Fatalf("secret %q", secret)
	}
	return w
}

// deliveries returns the event types delivered to w, oldest first.
func (e *env) deliveries(w *Webhook) []string {
	e.t.Helper()
	ds, err := e.lg.ListDeliveries(ctx, e.root, w.ID, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, d := range slices.Backward(ds) {
		out = append(out, d.EventType)
	}
	return out
}

func TestWebhookCreateListDelete(t *testing.T) {
	e := newHookEnv(t)
	_, acme, _, beta := e.tree()
	w, secret, err := e.lg.CreateWebhook(ctx, acme, "acme", "https://hooks.example.test/in", []string{EventDeviceBlacklisted, EventLicenseRevoked, EventDeviceBlacklisted})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil || len(raw) < 24 || len(raw) > 32 || w.Secret != "" {
		t.Fatalf("secret %q (%d bytes, %v); view carries %q", secret, len(raw), err, w.Secret)
	}
	if !slices.Equal(w.Events, []string{EventDeviceBlacklisted, EventLicenseRevoked}) {
		t.Fatalf("events %v", w.Events)
	}
	ws, err := e.lg.ListWebhooks(ctx, admin("dist"), "acme")
	if err != nil || len(ws) != 1 || ws[0].Secret != "" || ws[0].URL != "https://hooks.example.test/in" {
		t.Fatalf("ListWebhooks = %+v, %v", ws, err)
	}
	cases := []struct {
		name string
		err  error
		run  func() error
	}{
		{"error/sibling-list", ErrNotFound, func() error { _, err := e.lg.ListWebhooks(ctx, beta, "acme"); return err }},
		{"error/sibling-create", ErrNotFound, func() error {
			_, _, err := e.lg.CreateWebhook(ctx, beta, "acme", "https://x.example.test/", []string{EventSyncFork})
			return err
		}},
		{"error/sibling-delete", ErrNotFound, func() error { return e.lg.DeleteWebhook(ctx, beta, w.ID) }},
		{"error/sibling-deliveries", ErrNotFound, func() error { _, err := e.lg.ListDeliveries(ctx, beta, w.ID, 0); return err }},
		{"error/sibling-test", ErrNotFound, func() error { _, err := e.lg.TestWebhook(ctx, beta, w.ID); return err }},
		{"error/viewer-create", ErrForbidden, func() error {
			_, _, err := e.lg.CreateWebhook(ctx, as(acme, RoleViewer), "acme", "https://x.example.test/", []string{EventSyncFork})
			return err
		}},
		{"error/operator-delete", ErrForbidden, func() error { return e.lg.DeleteWebhook(ctx, as(acme, RoleOperator), w.ID) }},
		{"error/unknown-event", ErrInvalid, func() error {
			_, _, err := e.lg.CreateWebhook(ctx, acme, "acme", "https://x.example.test/", []string{"license.exploded"})
			return err
		}},
		{"error/no-event", ErrInvalid, func() error {
			_, _, err := e.lg.CreateWebhook(ctx, acme, "acme", "https://x.example.test/", nil)
			return err
		}},
		{"error/ftp", ErrBadWebhookURL, func() error {
			_, _, err := e.lg.CreateWebhook(ctx, acme, "acme", "ftp://x.example.test/", []string{EventSyncFork})
			return err
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.run(); !errors.Is(err, c.err) {
				t.Fatalf("got %v, want %v", err, c.err)
			}
		})
	}
	if err := e.lg.DeleteWebhook(ctx, acme, w.ID); err != nil {
		t.Fatal(err)
	}
	if ws, _ := e.lg.ListWebhooks(ctx, acme, "acme"); len(ws) != 0 {
		t.Fatalf("after delete: %+v", ws)
	}
}

func TestWebhookLimitPerCustomer(t *testing.T) {
	e := newHookEnv(t)
	_, acme, _, _ := e.tree()
	for range MaxWebhooksPerCustomer {
		e.webhook(acme, "acme", EventSyncFork)
	}
	if _, _, err := e.lg.CreateWebhook(ctx, acme, "acme", "https://x.example.test/", []string{EventSyncFork}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("webhook past the limit: %v", err)
	}
}

// TestWebhookURLRefusedAtCreate: the ledger refuses URLs into the
// server's network, including a name resolving there, unless allowed.
func TestWebhookURLRefusedAtCreate(t *testing.T) {
	e := newHookEnv(t)
	_, acme, _, _ := e.tree()
	for _, u := range []string{"http://127.0.0.1:8080/", "http://[::1]/", "http://169.254.169.254/latest/meta-data/",
		"http://10.0.0.1/", "http://localhost/", "https://rebind.example.test/"} {
		if _, _, err := e.lg.CreateWebhook(ctx, acme, "acme", u, []string{EventSyncFork}); !errors.Is(err, ErrBadWebhookURL) || !errors.Is(err, egress.ErrForbiddenAddress) {
			t.Errorf("CreateWebhook %s: %v, want a forbidden address", u, err)
		}
	}
	e.lg.egress.AllowPrivate = true
	if _, _, err := e.lg.CreateWebhook(ctx, acme, "acme", "http://127.0.0.1:8080/", []string{EventSyncFork}); err != nil {
		t.Fatalf("with private addresses allowed: %v", err)
	}
}

// TestEventFanOutUpTheChain: an event of acme-sub's reaches the
// endpoints of acme-sub, acme and dist (its chain), never beta's.
func TestEventFanOutUpTheChain(t *testing.T) {
	e := newHookEnv(t)
	dist, acme, sub, beta := e.tree()
	wd, wa, ws, wb := e.webhook(dist, "dist"), e.webhook(acme, "acme"), e.webhook(sub, "acme-sub"), e.webhook(beta, "beta")
	wOther := e.webhook(dist, "dist", EventLicenseRevoked)
	e.device(sub, "acme-sub", "dev-1", "sensor-a")
	if _, err := e.lg.SetBlacklist(ctx, sub, "dev-1", true, "stolen"); err != nil {
		t.Fatal(err)
	}
	for _, w := range []*Webhook{wd, wa, ws} {
		if got := e.deliveries(w); !slices.Equal(got, []string{EventDeviceBlacklisted}) {
			t.Errorf("%s (%s) got %v", w.ID, w.CustomerID, got)
		}
	}
	if got := e.deliveries(wb); len(got) != 0 {
		t.Errorf("sibling beta got %v", got)
	}
	if got := e.deliveries(wOther); len(got) != 0 {
		t.Errorf("an endpoint not subscribed to device.blacklisted got %v", got)
	}
	// Blacklisting again changes nothing: no second event.
	if _, err := e.lg.SetBlacklist(ctx, sub, "dev-1", true, "stolen"); err != nil {
		t.Fatal(err)
	}
	if got := e.deliveries(wa); len(got) != 1 {
		t.Errorf("a blacklist that changed nothing made an event: %v", got)
	}
}

// TestEventsArise: each fact puts its event in the outbox, once.
func TestEventsArise(t *testing.T) {
	e := newHookEnv(t)
	dist, acme, sub, _ := e.tree()
	w := e.webhook(dist, "dist")
	wSub := e.webhook(sub, "acme-sub")
	e.device(acme, "acme", "dev-1", "sensor-a")
	l := e.create(dist, std("acme"))
	e.bind(acme, l.ID, "dev-1")
	step := func(name string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	_, err := e.lg.Suspend(ctx, dist, l.ID)
	step("suspend", err)
	_, err = e.lg.Resume(ctx, dist, l.ID)
	step("resume", err)
	_, _, err = e.lg.Transfer(ctx, acme, l.ID, "acme-sub")
	step("transfer", err)
	l2 := e.create(dist, std("acme"))
	_, err = e.lg.Revoke(ctx, e.root, l2.ID)
	step("revoke", err)
	_, err = e.lg.SetBlacklist(ctx, acme, "dev-1", true, "test")
	step("blacklist", err)
	e.clk.Advance(time.Second)
	_, err = e.lg.SetBlacklist(ctx, acme, "dev-1", false, "")
	step("unblacklist", err)
	e.device(acme, "acme", "dev-2", "sensor-a")
	_, err = e.lg.Deduct(ctx, DeductInput{DeviceID: "dev-2", Seq: 1})
	if !errors.Is(err, ErrNoDaysLeft) {
		t.Fatalf("deduct without a license: %v", err)
	}
	// The same deduction again is a replay: no second event.
	_, _ = e.lg.Deduct(ctx, DeductInput{DeviceID: "dev-2", Seq: 1})
	want := []string{EventLicenseSuspended, EventLicenseResumed, EventLicenseTransferred, EventLicenseRevoked,
		EventDeviceBlacklisted, EventDeviceUnblacklisted, EventDeviceBlacklisted, EventDeductionFailed}
	if got := e.deliveries(w); !slices.Equal(got, want) {
		t.Fatalf("events\n got %v\nwant %v", got, want)
	}
	// acme-sub, the transfer's receiving side, hears the transfer only.
	if got := e.deliveries(wSub); !slices.Equal(got, []string{EventLicenseTransferred}) {
		t.Fatalf("receiving side got %v", got)
	}
}

func TestEventIDIsStable(t *testing.T) {
	a, b := eventID(EventSyncFork, "dev-1", "7/abc"), eventID(EventSyncFork, "dev-1", "7/abc")
	if a != b || a == eventID(EventSyncFork, "dev-1", "7/abd") || a == eventID(EventSyncOverdraft, "dev-1", "7/abc") {
		t.Fatalf("event ids %s %s", a, b)
	}
	e := newHookEnv(t)
	_, acme, _, _ := e.tree()
	w := e.webhook(acme, "acme")
	for range 2 { // the same fact recorded twice (a transaction run again)
		if err := e.lg.update(func(o *op) error {
			return o.emit(EventSyncFork, "dev-1", "7/abc", DeviceEventData{DeviceID: "dev-1"}, "acme")
		}); err != nil {
			t.Fatal(err)
		}
	}
	if got := e.deliveries(w); len(got) != 1 {
		t.Fatalf("one fact, %d deliveries", len(got))
	}
}

// TestDeliveryRetriesThenFails: failures back off (growing, jittered)
// until the retry window is over, then the delivery is failed; the
// endpoint failing for days is disabled and its queue fails.
func TestDeliveryRetriesThenFails(t *testing.T) {
	e := newHookEnv(t)
	dist, acme, _, _ := e.tree()
	w := e.webhook(acme, "acme")
	told := e.webhook(dist, "dist", EventWebhookDisabled)
	e.device(acme, "acme", "dev-1", "sensor-a")
	if _, err := e.lg.SetBlacklist(ctx, acme, "dev-1", true, "x"); err != nil {
		t.Fatal(err)
	}
	start := e.clk.Now()
	var waits []time.Duration
	for i := 0; ; i++ {
		due, err := e.lg.DueDeliveries(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(due) != 1 {
			t.Fatalf("attempt %d: %d due", i, len(due))
		}
		if err := e.lg.RecordAttempt(ctx, due[0].Delivery.ID, 503, "unavailable"); err != nil {
			t.Fatal(err)
		}
		ds, _ := e.lg.ListDeliveries(ctx, acme, w.ID, 0)
		d := ds[0]
		if d.State == DeliveryFailed {
			if e.clk.Now().Sub(start) < DeliveryRetryWindow || d.Attempts != i+1 || d.LastStatus != 503 {
				t.Fatalf("failed at %v after %d attempts: %+v", e.clk.Now().Sub(start), d.Attempts, d)
			}
			break
		}
		if again, _ := e.lg.DueDeliveries(ctx, 10); len(again) != 0 {
			t.Fatal("a failed delivery is due again at once")
		}
		waits = append(waits, d.NextAt.Sub(e.clk.Now()))
		e.clk.Advance(d.NextAt.Sub(e.clk.Now()))
	}
	if len(waits) < 5 || waits[4] <= waits[0] || slices.Max(waits) > DeliveryMaxBackoff*5/4 {
		t.Fatalf("waits %v", waits)
	}
	// Another event keeps failing until the endpoint has failed for days.
	e.clk.Advance(time.Second)
	if _, err := e.lg.SetBlacklist(ctx, acme, "dev-1", false, ""); err != nil {
		t.Fatal(err)
	}
	for e.clk.Now().Sub(start) <= WebhookDisableAfter+DeliveryMaxBackoff*2 {
		due, _ := e.lg.DueDeliveries(ctx, 10)
		for _, d := range due {
			if err := e.lg.RecordAttempt(ctx, d.Delivery.ID, 0, "connection refused"); err != nil {
				t.Fatal(err)
			}
		}
		e.clk.Advance(time.Hour)
	}
	ws, _ := e.lg.ListWebhooks(ctx, acme, "acme")
	if !ws[0].Disabled || ws[0].DisabledReason == "" {
		t.Fatalf("endpoint failing for days: %+v", ws[0])
	}
	if got := e.deliveries(told); !slices.Equal(got, []string{EventWebhookDisabled}) {
		t.Fatalf("the distributor's endpoint was told %v", got)
	}
	// The owner is told by e-mail too, once: it may have no other endpoint.
	ns, _ := e.lg.ListCustomerNotices(ctx, acme, "acme")
	if len(ns) != 1 || ns[0].Kind != NoticeWebhookDisabled || !strings.Contains(ns[0].Summary(), w.URL) {
		t.Fatalf("acme's notices %+v", ns)
	}
	if _, err := e.lg.Redeliver(ctx, acme, "dlv_nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("redeliver unknown: %v", err)
	}
}

func TestRedeliverSameID(t *testing.T) {
	e := newHookEnv(t)
	_, acme, _, beta := e.tree()
	w := e.webhook(acme, "acme")
	d, err := e.lg.TestWebhook(ctx, acme, w.ID)
	if err != nil || d.EventType != EventWebhookTest {
		t.Fatalf("TestWebhook = %+v, %v", d, err)
	}
	due, _ := e.lg.DueDeliveries(ctx, 10)
	if len(due) != 1 || !strings.Contains(string(due[0].Body), d.EventID) {
		t.Fatalf("due %+v", due)
	}
	if err := e.lg.RecordAttempt(ctx, d.ID, 204, ""); err != nil {
		t.Fatal(err)
	}
	if due, _ := e.lg.DueDeliveries(ctx, 10); len(due) != 0 {
		t.Fatal("succeeded delivery is due")
	}
	if _, err := e.lg.Redeliver(ctx, beta, d.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("sibling redelivers: %v", err)
	}
	r, err := e.lg.Redeliver(ctx, acme, d.ID)
	if err != nil || r.State != DeliveryPending || r.ID != d.ID {
		t.Fatalf("Redeliver = %+v, %v", r, err)
	}
	due, _ = e.lg.DueDeliveries(ctx, 10)
	if len(due) != 1 || due[0].Delivery.EventID != d.EventID {
		t.Fatalf("redelivered: %+v", due)
	}
}

// TestPruneOutbox: finished deliveries and events older than the
// retention are deleted, a pending delivery stays and is still sent; one
// redelivered after its event was pruned fails instead of blocking the
// queue.
func TestPruneOutbox(t *testing.T) {
	e := newHookEnv(t)
	_, acme, _, _ := e.tree()
	w := e.webhook(acme, "acme")
	e.device(acme, "acme", "dev-1", "sensor-a")
	if _, err := e.lg.SetBlacklist(ctx, acme, "dev-1", true, "x"); err != nil {
		t.Fatal(err)
	}
	due, _ := e.lg.DueDeliveries(ctx, 10)
	old := due[0].Delivery
	if err := e.lg.RecordAttempt(ctx, old.ID, 200, ""); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(OutboxRetention - time.Hour)
	if _, err := e.lg.SetBlacklist(ctx, acme, "dev-1", false, ""); err != nil { // pending, newer
		t.Fatal(err)
	}
	if n, err := e.lg.PruneOutbox(ctx); err != nil || n != 0 {
		t.Fatalf("pruned %d before the retention, %v", n, err)
	}
	e.clk.Advance(2 * time.Hour)
	if n, err := e.lg.PruneOutbox(ctx); err != nil || n != 2 {
		t.Fatalf("PruneOutbox = %d, %v; want the old delivery and its event", n, err)
	}
	if got := e.deliveries(w); !slices.Equal(got, []string{EventDeviceUnblacklisted}) {
		t.Fatalf("after pruning: %v", got)
	}
	if _, err := e.lg.Redeliver(ctx, acme, old.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("redeliver a pruned delivery: %v", err)
	}
	due, err := e.lg.DueDeliveries(ctx, 10)
	if err != nil || len(due) != 1 || due[0].Delivery.EventType != EventDeviceUnblacklisted {
		t.Fatalf("due after pruning %+v, %v", due, err)
	}
	// A delivery finished, redelivered late: its event is gone by the time
	// it is due, so it fails rather than erroring every pass.
	if err := e.lg.RecordAttempt(ctx, due[0].Delivery.ID, 204, ""); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(OutboxRetention - time.Hour)
	if _, err := e.lg.Redeliver(ctx, acme, due[0].Delivery.ID); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(2 * time.Hour)
	if _, err := e.lg.PruneOutbox(ctx); err != nil {
		t.Fatal(err)
	}
	if due, err := e.lg.DueDeliveries(ctx, 10); err != nil || len(due) != 0 {
		t.Fatalf("due %+v, %v", due, err)
	}
	ds, _ := e.lg.ListDeliveries(ctx, acme, w.ID, 0)
	if len(ds) != 1 || ds[0].State != DeliveryFailed {
		t.Fatalf("redelivered with its event pruned: %+v", ds)
	}
}
