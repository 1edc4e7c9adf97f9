package ledger

import (
	"testing"

	"github.com/tollgate-iot/tollgate/shared/limits"
	"github.com/tollgate-iot/tollgate/shared/token"
)

func TestSubIssuerReturnsStopAtTheIssuer(t *testing.T) {
	e := newEnv(t)
	dist, acme, sub, _ := e.tree()
	_, err := e.lg.CreateLicenses(ctx, acme, std("acme-sub"))
	wantErr(t, err, ErrNotIssuer)

	// The vendor may make a customer below a distributor an issuer too
	// (a sub-distributor): what it creates returns up to it, no further.
	e.grantIssuer("acme", IssuerLimits{})
	l := e.create(acme, std("acme-sub"))
	if l.IssuedBy != "acme" || l.Origin != "acme" {
		t.Fatalf("issued_by %q origin %q, want acme", l.IssuedBy, l.Origin)
	}
	if _, err := e.lg.Return(ctx, sub, BatchInput{IDs: []string{l.ID}}); err != nil {
		t.Fatalf("acme-sub returns to its issuer: %v", err)
	}
	_, err = e.lg.Return(ctx, acme, BatchInput{IDs: []string{l.ID}})
	wantErr(t, err, ErrAboveOrigin)
	yes := true
	if _, err := e.lg.UpdateCustomer(ctx, acme, "acme", CustomerUpdate{AllowSuperiorManage: &yes}); err != nil {
		t.Fatal(err)
	}
	_, err = e.lg.Return(ctx, dist, BatchInput{CustomerID: "acme", IDs: []string{l.ID}})
	wantErr(t, err, ErrAboveOrigin)
	if got := e.get(l.ID); got.CustomerID != "acme" {
		t.Fatalf("license went to %s", got.CustomerID)
	}
}

func TestMoveSidewaysLowersTheOrigin(t *testing.T) {
	e := newEnv(t)
	e.tree()
	e.customer(admin("acme"), "acme", "acme-two")
	trial := e.trial("acme-sub")
	// The distributor corrects a mistake: acme-sub's trial belongs to
	// acme-two. It may now go up to acme, where the two meet, not above.
	v, err := e.lg.MoveLicense(ctx, admin("dist"), trial.ID, "acme-two")
	if err != nil {
		t.Fatal(err)
	}
	if v.Origin != "acme" {
		t.Fatalf("origin after the move %q, want acme", v.Origin)
	}
	if _, err := e.lg.Return(ctx, admin("acme-two"), BatchInput{IDs: []string{trial.ID}}); err != nil {
		t.Fatalf("return to acme: %v", err)
	}
	_, err = e.lg.Return(ctx, admin("acme"), BatchInput{IDs: []string{trial.ID}})
	wantErr(t, err, ErrAboveOrigin)
}

func TestLicenseWithoutOriginReturnsAsBefore(t *testing.T) {
	e := newEnv(t)
	e.tree()
	l := e.create(admin("dist"), std("acme"))
	// A license written before origins existed: its creator is unknown,
	// so it keeps the rule it was created under (up to the vendor).
	err := e.lg.update(func(o *op) error {
		old, err := o.license(l.ID)
		if err != nil {
			return err
		}
		before := *old
		old.Origin, old.IssuedBy = "", ""
		return o.putLicense(&before, old)
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := e.get(l.ID); got.Origin != "root" {
		t.Fatalf("shown origin %q, want root", got.Origin)
	}
	for _, who := range []string{"acme", "dist"} {
		if _, err := e.lg.Return(ctx, admin(who), BatchInput{IDs: []string{l.ID}}); err != nil {
			t.Fatalf("%s returns a license without origin: %v", who, err)
		}
	}
}

func TestIssuerLimitsAreChecked(t *testing.T) {
	e := newEnv(t)
	e.tree()
	on, off := true, false
	tests := []struct {
		name string
		u    IssuerUpdate
		want error
	}{
		{"error/month-zero", IssuerUpdate{AllowedMonths: &[]int{0}}, ErrInvalid},
		{"error/month-above-max", IssuerUpdate{AllowedMonths: &[]int{MaxMonths + 1}}, ErrInvalid},
		{"error/too-many-durations", IssuerUpdate{AllowedMonths: func() *[]int {
			ms := make([]int, MaxIssuerDurations+1)
			for i := range ms {
				ms[i] = 1
			}
			return &ms
		}()}, ErrInvalid},
		{"error/negative-days", IssuerUpdate{MaxDays: ptrTo(int64(-1))}, ErrInvalid},
		{"error/days-above-max", IssuerUpdate{MaxDays: ptrTo(int64(limits.MaxPrepaidDays + 1))}, ErrInvalid},
		{"error/limits-without-right", IssuerUpdate{Issuer: &off, MaxDays: ptrTo(int64(30))}, ErrInvalid},
		{"ok", IssuerUpdate{Issuer: &on, AllowedMonths: &[]int{24, 12, 24}, MaxDays: ptrTo(int64(365))}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := e.lg.UpdateCustomer(ctx, e.root, "beta", CustomerUpdate{Issuer: &tc.u})
			if tc.want != nil {
				wantErr(t, err, tc.want)
				return
			}
			if err != nil || !c.Issuer || len(c.IssuerLimits.AllowedMonths) != 2 || c.IssuerLimits.AllowedMonths[0] != 12 {
				t.Fatalf("UpdateCustomer = %+v, %v", c, err)
			}
		})
	}
	// Withdrawing the right clears the limits with it.
	c, err := e.lg.UpdateCustomer(ctx, e.root, "beta", CustomerUpdate{Issuer: &IssuerUpdate{Issuer: &off}})
	if err != nil || c.Issuer || len(c.IssuerLimits.AllowedMonths) != 0 || c.IssuerLimits.MaxDays != 0 {
		t.Fatalf("withdrawn: %+v, %v", c, err)
	}
	// A trial carries no duration: limits on months do not refuse it.
	e.grantIssuer("beta", IssuerLimits{AllowedMonths: []int{24}})
	in := LicenseInput{CustomerID: "beta", Type: token.TypeTrial, Billing: token.BillingTerm, Models: []string{"*"}}
	e.customer(admin("beta"), "beta", "beta-1")
	in.CustomerID = "beta-1"
	if _, err := e.lg.CreateLicenses(ctx, admin("beta"), in); err != nil {
		t.Fatalf("trial by a limited issuer: %v", err)
	}
}

func ptrTo[T any](v T) *T { return &v }
