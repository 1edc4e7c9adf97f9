package ledger

import (
	"crypto/ed25519"
	"crypto/rand"
	"testing"

	"github.com/tollgate-iot/tollgate/shared/token"
)

// child registers a child device of gateway gw.
func (e *env) child(a Actor, customer, id, gw string) (*Device, error) {
	e.t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.lg.CreateDevice(ctx, a, DeviceInput{ID: id, CustomerID: customer, Model: "sensor-c",
		PublicKey: token.EncodePublicKey(pub), GatewayID: gw})
}

func (e *env) mustChild(a Actor, customer, id, gw string) {
	e.t.Helper()
	if _, err := e.child(a, customer, id, gw); err != nil {
		e.t.Fatalf("child %s of %s: %v", id, gw, err)
	}
}

// capacity is a standard term license of acme that starts at start
// children and allows at most max.
func capacity(start, max int64) LicenseInput {
	in := std("acme")
	in.StartAtChildren, in.MaxChildren = start, max
	return in
}

func TestCapacityLicenseStartsWhenGatewayReachesNChildren(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, _ := e.tree()
	e.device(acme, "acme", "gw-1", "sensor-gw")
	l := e.create(dist, capacity(3, 5))
	if l.Status != StatusUnused || !l.Start.IsZero() || !l.End.IsZero() {
		t.Fatalf("new capacity license: %s %v..%v, want unused with no period", l.Status, l.Start, l.End)
	}
	r := e.bind(acme, l.ID, "gw-1")
	if r.License.Status != StatusPendingStart || r.Token != nil || !r.License.ActivatedAt.IsZero() {
		t.Fatalf("after bind: %s, token %v, activated %v; want pending_start without a token", r.License.Status, r.Token, r.License.ActivatedAt)
	}
	_, err := e.lg.LicenseToken(ctx, acme, l.ID)
	wantErr(t, err, ErrNotFound)
	_, err = e.lg.DeviceStanding(ctx, "gw-1", l.ID)
	wantErr(t, err, ErrPendingStart)

	e.clk.Advance(40 * Day) // waiting counts no time
	e.mustChild(acme, "acme", "c-1", "gw-1")
	e.mustChild(acme, "acme", "c-2", "gw-1")
	if got := e.get(l.ID); got.Status != StatusPendingStart || !got.End.IsZero() || got.Version != r.License.Version {
		t.Fatalf("with 2 of 3 children: %s until %v, version %d", got.Status, got.End, got.Version)
	}
	pending, _, err := e.lg.ListLicenses(ctx, acme, LicenseFilter{Status: StatusPendingStart})
	if err != nil || len(pending) != 1 || pending[0].ID != l.ID {
		t.Fatalf("status=pending_start lists %d licenses, %v", len(pending), err)
	}

	e.clk.Advance(Day)
	startedAt := e.clk.Now()
	e.mustChild(acme, "acme", "c-3", "gw-1")
	got := e.get(l.ID)
	wantEnd := PeriodEnd(startedAt, DefaultMonths, AlignAnniversary)
	if got.Status != StatusActive || !got.ActivatedAt.Equal(startedAt) || !got.Start.Equal(startedAt) || !got.End.Equal(wantEnd) {
		t.Fatalf("at the 3rd child: %s activated %v, period %v..%v; want active from %v to %v",
			got.Status, got.ActivatedAt, got.Start, got.End, startedAt, wantEnd)
	}
	if got.Version <= r.License.Version {
		t.Fatalf("start kept version %d", got.Version)
	}
	tok, err := e.lg.LicenseToken(ctx, acme, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	trust, _ := e.ks.Trust()
	tl, err := token.Verify(trust, tok.Token, e.clk.Now())
	if err != nil || tl.Version != got.Version || tl.MaxChildren != 5 || tl.NotAfter != wantEnd.Unix() || tl.DeviceID != "gw-1" {
		t.Fatalf("token after start: %+v, %v", tl, err)
	}
	if st, err := e.lg.DeviceStanding(ctx, "gw-1", l.ID); err != nil || len(st.Children) != 3 {
		t.Fatalf("standing after start: %+v, %v", st, err)
	}
	entries, _, err := e.lg.ListAudit(ctx, e.root, "", 1)
	if err != nil || len(entries) != 1 || entries[0].Action != "license.start" || entries[0].UserID != acme.UserID {
		t.Fatalf("newest audit entry %+v, %v; want license.start by the user who added the child", entries, err)
	}

	// Started for good: a move to a gateway without children keeps it active.
	e.device(acme, "acme", "gw-2", "sensor-gw")
	if _, err := e.lg.Unbind(ctx, acme, l.ID); err != nil {
		t.Fatal(err)
	}
	if r := e.bind(acme, l.ID, "gw-2"); r.License.Status != StatusActive || r.Token == nil || !r.License.End.Equal(wantEnd) {
		t.Fatalf("rebound started license: %s, token %v, end %v", r.License.Status, r.Token, r.License.End)
	}
}

// TestCapacityLicenseStartsAtBindOnALargeEnoughGateway binds to a gateway
// that already has the children: it starts at once, each kind of license
// with its own period from that instant.
func TestCapacityLicenseStartsAtBindOnALargeEnoughGateway(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, _ := e.tree()
	e.device(acme, "acme", "gw-1", "sensor-gw")
	e.mustChild(acme, "acme", "c-1", "gw-1")
	e.mustChild(acme, "acme", "c-2", "gw-1")
	e.clk.Advance(45 * Day)
	now := e.clk.Now()
	trial := LicenseInput{CustomerID: "acme", Type: token.TypeTrial, Billing: token.BillingTerm, Models: []string{"*"}}
	day := days("acme", 10)
	day.Models = []string{"*"}
	tests := []struct {
		name     string
		in       LicenseInput
		from, to string
	}{
		{"term", capacity(2, 0), now.Format("2006-01-02"), PeriodEnd(now, DefaultMonths, AlignAnniversary).Format("2006-01-02")},
		{"trial", trial, now.Format("2006-01-02"), now.Add(TrialDays * Day).Format("2006-01-02")},
		{"days", day, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.StartAtChildren = 2
			tc.in.Models = []string{"*"}
			l := e.create(dist, tc.in)
			r := e.bind(acme, l.ID, "gw-1")
			period := func(v *LicenseView) (string, string) {
				if v.End.IsZero() {
					return "", ""
				}
				return v.Start.Format("2006-01-02"), v.End.Format("2006-01-02")
			}
			from, to := period(&r.License)
			if r.License.Status != StatusActive || !r.License.ActivatedAt.Equal(now) || from != tc.from || to != tc.to || r.Token == nil {
				t.Fatalf("bound: %s activated %v, period %s..%s, token %v; want active %s..%s", r.License.Status,
					r.License.ActivatedAt, from, to, r.Token, tc.from, tc.to)
			}
			e.lg.Unbind(ctx, acme, l.ID)
		})
	}
}

func TestChildBeyondCapacityIsRefused(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, _ := e.tree()
	e.device(acme, "acme", "gw-1", "sensor-gw")
	l := e.create(dist, capacity(0, 2))
	r := e.bind(acme, l.ID, "gw-1")
	trust, _ := e.ks.Trust()
	if tl, err := token.Verify(trust, r.Token.Token, e.clk.Now()); err != nil || tl.MaxChildren != 2 {
		t.Fatalf("token max_children: %+v, %v", tl, err)
	}
	e.mustChild(acme, "acme", "c-1", "gw-1")
	e.mustChild(acme, "acme", "c-2", "gw-1")
	_, err := e.child(acme, "acme", "c-3", "gw-1")
	wantErr(t, err, ErrCapacity)
	_, err = e.lg.GetDevice(ctx, acme, "c-3")
	wantErr(t, err, ErrNotFound) // nothing half-applied

	// A cap that the gateway already exceeds cannot be bound to it.
	in := capacity(0, 1)
	in.Features = []string{"vision"} // another purpose: it would not replace l
	other := e.create(dist, in)
	_, err = e.lg.Bind(ctx, acme, other.ID, BindInput{DeviceID: "gw-1"})
	wantErr(t, err, ErrCapacity)

	// A license that waits for children cannot wait on a child device.
	waiting := e.create(dist, capacity(1, 0))
	_, err = e.lg.Bind(ctx, acme, waiting.ID, BindInput{DeviceID: "c-1"})
	wantErr(t, err, ErrCapacity)

	// Once the capping license is gone (unbound), the gateway may grow.
	if _, err := e.lg.Unbind(ctx, acme, l.ID); err != nil {
		t.Fatal(err)
	}
	e.mustChild(acme, "acme", "c-3", "gw-1")
}

// TestCapacityDayLicenseIsNotChargedBeforeItStarts: a waiting day license
// bound first still pays nothing; an ordinary one pays.
func TestCapacityDayLicenseIsNotChargedBeforeItStarts(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, _ := e.tree()
	e.device(acme, "acme", "gw-1", "sensor-gw")
	in := days("acme", 10)
	in.Models = []string{"*"}
	in.StartAtChildren = 1
	waiting := e.create(dist, in)
	e.bind(acme, waiting.ID, "gw-1")
	plain := e.create(dist, LicenseInput{CustomerID: "acme", Type: token.TypeStandard, Billing: token.BillingDays, Models: []string{"*"}, Days: 5})
	e.bind(acme, plain.ID, "gw-1")
	d, err := e.lg.Deduct(ctx, DeductInput{DeviceID: "gw-1", Seq: 1})
	if err != nil || d.LicenseID != plain.ID {
		t.Fatalf("deduction charged %q (%v), want the started license %s", d.LicenseID, err, plain.ID)
	}
	if got := e.get(waiting.ID); got.AvailableDays != 10 || got.Status != StatusPendingStart {
		t.Fatalf("waiting license: %s with %d days", got.Status, got.AvailableDays)
	}
	e.mustChild(acme, "acme", "c-1", "gw-1")
	got := e.get(waiting.ID)
	if got.Status != StatusActive || got.AvailableDays != 10 {
		t.Fatalf("after the child: %s with %d days, want active with 10", got.Status, got.AvailableDays)
	}
	tok, err := e.lg.LicenseToken(ctx, acme, waiting.ID)
	trust, _ := e.ks.Trust()
	if tl, verr := token.Verify(trust, tok.Token, e.clk.Now()); err != nil || verr != nil || tl.Days != 10 {
		t.Fatalf("token after start: %+v, %v, %v", tl, err, verr)
	}
}

func TestCapacityLicenseInputRules(t *testing.T) {
	e := newEnv(t)
	dist, _, _, _ := e.tree()
	tests := []struct {
		name       string
		start, max int64
	}{
		{"error/start-above-max", 3, 2},
		{"error/negative-start", -1, 0},
		{"error/negative-max", 0, -1},
		{"error/start-too-large", MaxChildrenLimit + 1, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.lg.CreateLicenses(ctx, dist, capacity(tc.start, tc.max))
			wantErr(t, err, ErrInvalid)
		})
	}
}

// TestPendingCapacityLicenseReplacesOnlyWhenItStarts: binding a capacity
// license of the same purpose leaves the gateway's current license serving
// until the new one starts; then the new one replaces it, as a bind would.
func TestPendingCapacityLicenseReplacesOnlyWhenItStarts(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, _ := e.tree()
	e.device(acme, "acme", "gw-1", "sensor-gw")
	old := e.create(dist, std("acme"))
	oldTok := e.bind(acme, old.ID, "gw-1").Token
	l := e.create(dist, capacity(1, 0))
	r := e.bind(acme, l.ID, "gw-1")
	if len(r.Replaced) != 0 || e.status(old.ID) != StatusActive || r.License.Status != StatusPendingStart {
		t.Fatalf("pending bind replaced %d, old is %s, new is %s", len(r.Replaced), e.status(old.ID), r.License.Status)
	}
	if _, err := e.lg.LicenseToken(ctx, acme, old.ID); err != nil {
		t.Fatalf("the serving license lost its token: %v", err)
	}
	e.mustChild(acme, "acme", "c-1", "gw-1")
	if st, newSt := e.status(old.ID), e.status(l.ID); st != StatusDeactivated || newSt != StatusActive {
		t.Fatalf("after the start: old %s, new %s; want deactivated and active", st, newSt)
	}
	if min := e.revocationList().MinVersion(old.ID); min <= oldTok.Version {
		t.Fatalf("the replaced license's token is not superseded (min %d, token %d)", min, oldTok.Version)
	}
}
