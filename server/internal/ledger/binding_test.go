package ledger

import (
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/shared/token"
)

func TestNewCustomerGetsOneTrial(t *testing.T) {
	e := newEnv(t)
	e.tree()
	ls, _, err := e.lg.ListLicenses(ctx, SystemActor(), LicenseFilter{CustomerID: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) != 1 || ls[0].Type != token.TypeTrial || ls[0].Status != StatusUnused || ls[0].Renew {
		t.Fatalf("licenses of a new customer = %+v, want exactly one unused trial", ls)
	}
}

func TestTrialExpires30DaysAfterFirstBind(t *testing.T) {
	e := newEnv(t)
	_, acme, _, _ := e.tree()
	e.device(acme, "acme", "dev-1", "sensor-a")
	tr := e.trial("acme")
	e.clk.Advance(3 * Day) // unbound days do not count
	bound := e.clk.Now()
	r := e.bind(acme, tr.ID, "dev-1")
	if !r.License.End.Equal(bound.Add(30*Day)) || r.License.Status != StatusActive {
		t.Fatalf("after first bind: %s until %v", r.License.Status, r.License.End)
	}
	e.clk.Set(bound.Add(30*Day - time.Second))
	if st := e.status(tr.ID); st != StatusActive {
		t.Fatalf("one second before day 30: %s", st)
	}
	e.clk.Set(bound.Add(30 * Day))
	if st := e.status(tr.ID); st != StatusExpired {
		t.Fatalf("at day 30: %s, want expired", st)
	}
	e.lg.Unbind(ctx, acme, tr.ID)
	_, err := e.lg.Bind(ctx, acme, tr.ID, BindInput{DeviceID: "dev-1"})
	wantErr(t, err, ErrExpired)
}

func TestTrialMovesToAnotherDeviceWithinItsDays(t *testing.T) {
	e := newEnv(t)
	_, acme, _, _ := e.tree()
	e.device(acme, "acme", "dev-1", "sensor-a")
	e.device(acme, "acme", "dev-2", "other-model")
	tr := e.trial("acme")
	end := e.bind(acme, tr.ID, "dev-1").License.End
	e.clk.Advance(10 * Day)
	if _, err := e.lg.Unbind(ctx, acme, tr.ID); err != nil {
		t.Fatal(err)
	}
	if st := e.status(tr.ID); st != StatusDeactivated {
		t.Fatalf("unbound trial is %s, want deactivated", st)
	}
	r := e.bind(acme, tr.ID, "dev-2")
	if !r.License.End.Equal(end) {
		t.Fatalf("moving the trial changed its end from %v to %v", end, r.License.End)
	}
}

func TestAnotherTrialForDeviceWhoseTrialRanOut(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, _ := e.tree()
	e.device(acme, "acme", "dev-1", "sensor-a")
	first := e.trial("acme")
	e.bind(acme, first.ID, "dev-1")
	e.clk.Advance(31 * Day)
	second := e.create(dist, LicenseInput{CustomerID: "acme", Type: token.TypeTrial, Billing: token.BillingTerm, Models: []string{"*"}})
	r := e.bind(acme, second.ID, "dev-1")
	if r.License.Status != StatusActive || e.status(first.ID) != StatusExpired {
		t.Fatalf("second trial %s, first %s", r.License.Status, e.status(first.ID))
	}
}

func TestBindRefusesModelOutsideRange(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, _ := e.tree()
	e.device(acme, "acme", "gw-1", "gateway-x")
	l := e.create(dist, std("acme"))
	_, err := e.lg.Bind(ctx, acme, l.ID, BindInput{DeviceID: "gw-1"})
	wantErr(t, err, ErrModelMismatch)
	if st := e.status(l.ID); st != StatusUnused {
		t.Fatalf("refused bind changed status to %s", st)
	}
}

func TestLicenseServesOneDeviceAtATime(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, _ := e.tree()
	e.device(acme, "acme", "dev-1", "sensor-a")
	e.device(acme, "acme", "dev-2", "sensor-b")
	l := e.create(dist, std("acme"))
	e.bind(acme, l.ID, "dev-1")
	_, err := e.lg.Bind(ctx, acme, l.ID, BindInput{DeviceID: "dev-2"})
	wantErr(t, err, ErrBound)
	again := e.bind(acme, l.ID, "dev-1") // idempotent
	if again.License.DeviceID != "dev-1" {
		t.Fatalf("rebinding to the same device moved it to %q", again.License.DeviceID)
	}
}

func TestBindReplacesLicenseOfSamePurpose(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, _ := e.tree()
	e.device(acme, "acme", "dev-1", "sensor-a")
	old := e.create(dist, std("acme"))
	other := std("acme")
	other.Features = []string{"vision"}
	feature := e.create(dist, other)
	e.bind(acme, old.ID, "dev-1")
	e.bind(acme, feature.ID, "dev-1")
	up := std("acme")
	up.MaxSamplesPerHour = 2500
	newer := e.create(dist, up)
	r, err := e.lg.Bind(ctx, acme, newer.ID, BindInput{DeviceID: "dev-1", ExpireReplaced: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Replaced) != 1 || r.Replaced[0].ID != old.ID {
		t.Fatalf("replaced %+v, want only %s", r.Replaced, old.ID)
	}
	got := e.get(old.ID)
	if got.Status != StatusDeactivated || got.Renew || got.NoRenewFrom.IsZero() {
		t.Fatalf("replaced license: %s renew=%v no_renew_from=%v, want deactivated and set to expire", got.Status, got.Renew, got.NoRenewFrom)
	}
	if st := e.status(feature.ID); st != StatusActive {
		t.Fatalf("license with other features was touched: %s", st)
	}
	e.device(acme, "acme", "dev-2", "sensor-b")
	e.bind(acme, old.ID, "dev-2") // the replaced license serves another device
}

func TestSuperiorBindToSubCustomerDeviceHandsLicenseOver(t *testing.T) {
	e := newEnv(t)
	dist, acme, sub, _ := e.tree()
	e.device(sub, "acme-sub", "sub-dev", "sensor-a")
	l := e.create(dist, std("acme")) // acme's own license
	r := e.bind(acme, l.ID, "sub-dev")
	if r.License.CustomerID != "acme-sub" {
		t.Fatalf("owner after bind = %s, want acme-sub", r.License.CustomerID)
	}
	sales, _, _ := e.lg.ListSales(ctx, acme, SaleFilter{})
	if len(sales) == 0 || sales[0].Kind != SaleBindHandoff || sales[0].From != "acme" || sales[0].To != "acme-sub" {
		t.Fatalf("sales = %+v, want a bind_handoff record", sales)
	}
	// The other direction is refused: a sub-customer's license cannot go up.
	e.device(acme, "acme", "acme-dev", "sensor-a")
	subL := e.create(dist, std("acme-sub"))
	_, err := e.lg.Bind(ctx, sub, subL.ID, BindInput{DeviceID: "acme-dev"})
	wantErr(t, err, ErrNotFound) // acme's device is invisible to acme-sub
}

func TestBindIssuesVerifiableToken(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, _ := e.tree()
	d := e.device(acme, "acme", "dev-1", "sensor-a")
	l := e.create(dist, std("acme"))
	r := e.bind(acme, l.ID, "dev-1")
	trust, _ := e.ks.Trust()
	tl, err := token.Verify(trust, r.Token.Token, e.clk.Now())
	if err != nil {
		t.Fatalf("token does not verify: %v", err)
	}
	if tl.LicenseID != l.ID || tl.DeviceID != "dev-1" || tl.DeviceKey != d.KeyFingerprint || tl.Version != r.License.Version ||
		tl.NotAfter != l.End.Unix() || tl.MaxSamplesPerHour != 1000 || tl.CustomerID != "acme" {
		t.Fatalf("token payload %+v does not reflect license %+v", tl, r.License)
	}
	toks, err := e.lg.DeviceTokens(ctx, acme, "dev-1")
	if err != nil || len(toks) != 1 || toks[0].Token != r.Token.Token {
		t.Fatalf("DeviceTokens = %+v, %v", toks, err)
	}
	u, err := e.lg.Unbind(ctx, acme, l.ID)
	if err != nil || u.Version <= r.License.Version {
		t.Fatalf("unbind did not bump the version: %+v %v", u, err)
	}
	if toks, _ := e.lg.DeviceTokens(ctx, acme, "dev-1"); len(toks) != 0 {
		t.Fatalf("unbound license still has a token: %+v", toks)
	}
}

func TestLockedLicenseCannotBeSoldOrBound(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, _ := e.tree()
	e.device(acme, "acme", "dev-1", "sensor-a")
	l := e.create(dist, std("acme"))
	if _, err := e.lg.SetLock(ctx, acme, l.ID, true); err != nil {
		t.Fatal(err)
	}
	_, err := e.lg.Bind(ctx, acme, l.ID, BindInput{DeviceID: "dev-1"})
	wantErr(t, err, ErrLocked)
	_, err = e.lg.Sell(ctx, acme, BatchInput{CustomerID: "acme-sub", IDs: []string{l.ID}})
	wantErr(t, err, ErrLocked)
	e.lg.SetLock(ctx, acme, l.ID, false)
	e.bind(acme, l.ID, "dev-1")
	_, err = e.lg.SetLock(ctx, acme, l.ID, true)
	wantErr(t, err, ErrNotUnused)
}

func TestDeleteAndMoveOnlyNeverActivated(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, _ := e.tree()
	e.device(acme, "acme", "dev-1", "sensor-a")
	fresh := e.create(dist, std("acme"))
	used := e.create(dist, std("acme"))
	e.bind(acme, used.ID, "dev-1")
	e.lg.Unbind(ctx, acme, used.ID)
	tests := []struct {
		name string
		do   func(id string) error
	}{
		{"delete", func(id string) error { return e.lg.DeleteLicense(ctx, dist, id) }},
		{"move", func(id string) error { _, err := e.lg.MoveLicense(ctx, dist, id, "beta"); return err }},
	}
	for _, tc := range tests {
		t.Run(tc.name+"/activated-refused", func(t *testing.T) {
			wantErr(t, tc.do(used.ID), ErrActivated)
		})
	}
	if _, err := e.lg.MoveLicense(ctx, dist, fresh.ID, "beta"); err != nil {
		t.Fatalf("move never-activated: %v", err)
	}
	if got := e.get(fresh.ID); got.CustomerID != "beta" || got.ID != fresh.ID {
		t.Fatalf("moved license %+v", got)
	}
	if err := e.lg.DeleteLicense(ctx, dist, fresh.ID); err != nil {
		t.Fatalf("delete never-activated: %v", err)
	}
	_, err := e.lg.GetLicense(ctx, dist, fresh.ID)
	wantErr(t, err, ErrNotFound)
}

func TestUnbindNeverActivatedIsUnusedAgain(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, _ := e.tree()
	e.device(acme, "acme", "dev-1", "sensor-a")
	l := e.create(dist, days("acme", 3))
	e.bind(acme, l.ID, "dev-1")
	if st := e.status(l.ID); st != StatusInactive {
		t.Fatalf("bound day license before its first day: %s", st)
	}
	if _, err := e.lg.Unbind(ctx, acme, l.ID); err != nil {
		t.Fatal(err)
	}
	if st := e.status(l.ID); st != StatusUnused {
		t.Fatalf("unbound never-activated license: %s, want unused", st)
	}
	_, err := e.lg.Unbind(ctx, acme, l.ID)
	wantErr(t, err, ErrNotBound)
	if err := e.lg.DeleteLicense(ctx, dist, l.ID); err != nil { // still never activated
		t.Fatalf("delete after unbind: %v", err)
	}
}

func TestTermActivatesOnFirstBindBeforeItsStart(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, _ := e.tree()
	e.device(acme, "acme", "dev-1", "sensor-a")
	l := e.create(dist, std("acme")) // created 2026-03-14, starts 2026-04-01
	r := e.bind(acme, l.ID, "dev-1")
	trust, _ := e.ks.Trust()
	tl, err := token.Verify(trust, r.Token.Token, e.clk.Now()) // usable at once, before the start
	if err != nil || r.License.Status != StatusActive || !r.License.ActivatedAt.Equal(e.clk.Now()) {
		t.Fatalf("bound before start: %s, %v", r.License.Status, err)
	}
	if tl.NotBefore != e.clk.Now().Unix() || tl.NotAfter != date(2027, 4, 1).Unix() {
		t.Fatalf("token window %d..%d", tl.NotBefore, tl.NotAfter)
	}
}
