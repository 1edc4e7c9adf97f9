package ledger

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/airgap"
)

func (e *env) enrollment(a Actor, in EnrollmentInput) (*Enrollment, string) {
	e.t.Helper()
	en, code, err := e.lg.CreateEnrollment(ctx, a, in)
	if err != nil {
		e.t.Fatalf("CreateEnrollment: %v", err)
	}
	return en, code
}

func (e *env) listEnrollment(a Actor, customer, id string) Enrollment {
	e.t.Helper()
	es, err := e.lg.ListEnrollments(ctx, a, customer)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, en := range es {
		if en.ID == id {
			return en
		}
	}
	e.t.Fatalf("enrollment %s not listed", id)
	return Enrollment{}
}

func TestEnrollmentCodeRegistersDeviceOnly(t *testing.T) {
	e := newEnv(t)
	_, acme, _, _ := e.tree()
	en, code := e.enrollment(acme, EnrollmentInput{CustomerID: "acme"})
	r := e.redeem(activationRequest(newDeviceKey(t), "dev-1", "sensor-a"), code)
	if r.Method != RedeemEnrollment || r.EnrollmentID != en.ID || !r.DeviceCreated || r.License != nil {
		t.Fatalf("result %+v", r)
	}
	if ids := e.answerLicenses(r.Response, "dev-1"); len(ids) != 0 {
		t.Fatalf("register-only answer carries tokens %v", ids)
	}
	if d, err := e.lg.GetDevice(ctx, acme, "dev-1"); err != nil || d.CustomerID != "acme" {
		t.Fatalf("device %+v, %v", d, err)
	}
}

func TestEnrollmentCodeUsesAreCounted(t *testing.T) {
	e := newEnv(t)
	_, acme, _, _ := e.tree()
	en, code := e.enrollment(acme, EnrollmentInput{CustomerID: "acme", MaxUses: 2})
	one := activationRequest(newDeviceKey(t), "dev-1", "sensor-a")
	e.redeem(one, code)
	if again := e.redeem(one, code); !again.Retry {
		t.Fatalf("a retry by the same device is not marked as one: %+v", again)
	}
	if got := e.listEnrollment(acme, "acme", en.ID).Uses; got != 1 {
		t.Fatalf("uses after one device and its retry = %d, want 1", got)
	}
	e.redeem(activationRequest(newDeviceKey(t), "dev-2", "sensor-a"), code)
	_, err := e.lg.Redeem(ctx, activationRequest(newDeviceKey(t), "dev-3", "sensor-a"), code, "")
	wantErr(t, err, ErrEnrollmentUsedUp)
	if got := e.listEnrollment(acme, "acme", en.ID).Uses; got != 2 {
		t.Fatalf("uses = %d, want 2", got)
	}
	// A device that enrolled may still retry once the code is used up.
	if r := e.redeem(one, code); !r.Retry {
		t.Fatalf("retry after use-up: %+v", r)
	}
}

func TestEnrollmentCodeExpires(t *testing.T) {
	e := newEnv(t)
	_, acme, _, _ := e.tree()
	en, code := e.enrollment(acme, EnrollmentInput{CustomerID: "acme", ExpiresIn: 24 * time.Hour})
	if !en.ExpiresAt.Equal(epoch.Add(24 * time.Hour)) {
		t.Fatalf("expires_at %s", en.ExpiresAt)
	}
	e.clk.Advance(24*time.Hour - time.Second)
	e.redeem(activationRequest(newDeviceKey(t), "dev-1", "sensor-a"), code)
	e.clk.Advance(time.Second)
	_, err := e.lg.Redeem(ctx, activationRequest(newDeviceKey(t), "dev-2", "sensor-a"), code, "")
	wantErr(t, err, ErrEnrollmentExpired)
}

func TestEnrollmentCodeStoredOnlyAsHash(t *testing.T) {
	e := newEnv(t)
	_, acme, _, _ := e.tree()
	en, code := e.enrollment(acme, EnrollmentInput{CustomerID: "acme"})
	if !strings.HasPrefix(code, "tge_") || len(code) != 47 || en.CodeHash != "" || !strings.HasPrefix(code, en.Hint) {
		t.Fatalf("code %q, record %+v", code, en)
	}
	e.redeem(activationRequest(newDeviceKey(t), "dev-1", "sensor-a"), code)
	hash := []byte(hashEnrollmentCode(code))
	var hashHeld bool
	err := e.lg.db.View(func(x *store.Txn) error {
		return x.Scan(nil, nil, true, func(k, v []byte) (bool, error) {
			if bytes.Contains(k, []byte(code)) || bytes.Contains(v, []byte(code)) {
				t.Errorf("the code is stored under %q", k)
			}
			if bytes.Contains(k, hash) {
				hashHeld = true
			}
			if bytes.HasPrefix(k, []byte("a/")) && bytes.Contains(v, hash) {
				t.Errorf("the code's hash is in the audit log: %s", v)
			}
			return true, nil
		})
	})
	if err != nil || !hashHeld {
		t.Fatalf("scan: %v; hash held: %v", err, hashHeld)
	}
	if got := e.listEnrollment(acme, "acme", en.ID); got.CodeHash != "" {
		t.Fatal("the listing shows the code hash")
	}
}

func TestEnrollmentCodeRevokedIsUnknown(t *testing.T) {
	e := newEnv(t)
	_, acme, _, _ := e.tree()
	en, code := e.enrollment(acme, EnrollmentInput{CustomerID: "acme"})
	if r, err := e.lg.RevokeEnrollment(ctx, acme, en.ID); err != nil || !r.Revoked {
		t.Fatalf("revoke: %+v, %v", r, err)
	}
	_, err := e.lg.Redeem(ctx, activationRequest(newDeviceKey(t), "dev-1", "sensor-a"), code, "")
	wantErr(t, err, ErrUnknownCode)
	if got := e.listEnrollment(acme, "acme", en.ID); !got.Revoked {
		t.Fatal("the listing does not show the code revoked")
	}
	n := len(e.auditActions(acme))
	if r, err := e.lg.RevokeEnrollment(ctx, acme, en.ID); err != nil || !r.Revoked || len(e.auditActions(acme)) != n {
		t.Fatalf("revoking again: %+v, %v; the audit log grew from %d", r, err, n)
	}
}

func TestEnrollmentCodeRefusesOtherModels(t *testing.T) {
	e := newEnv(t)
	_, acme, _, _ := e.tree()
	_, code := e.enrollment(acme, EnrollmentInput{CustomerID: "acme", Models: []string{"sensor-*"}})
	_, err := e.lg.Redeem(ctx, activationRequest(newDeviceKey(t), "dev-1", "camera-x"), code, "")
	wantErr(t, err, ErrModelMismatch)
	e.redeem(activationRequest(newDeviceKey(t), "dev-2", "sensor-b"), code)
}

func TestEnrollmentLicensePoolTakesPaidLicensesBeforeTheTrial(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, _ := e.tree()
	trial := e.trial("acme")
	older := e.create(dist, std("acme"))
	e.clk.Advance(time.Minute)
	newer := e.create(dist, std("acme"))
	en, code := e.enrollment(acme, EnrollmentInput{CustomerID: "acme", LicensePool: true})
	var got []string
	for _, dev := range []string{"dev-1", "dev-2", "dev-3"} {
		r := e.redeem(activationRequest(newDeviceKey(t), dev, "sensor-a"), code)
		if r.License == nil || r.License.DeviceID != dev {
			t.Fatalf("%s: license %+v", dev, r.License)
		}
		if ids := e.answerLicenses(r.Response, dev); len(ids) != 1 || ids[0] != r.License.ID {
			t.Fatalf("%s: answer carries %v", dev, ids)
		}
		got = append(got, r.License.ID)
	}
	if want := []string{older.ID, newer.ID, trial.ID}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("pool order %v, want paid oldest first, then the trial %v", got, want)
	}
	_, err := e.lg.Redeem(ctx, activationRequest(newDeviceKey(t), "dev-4", "sensor-a"), code, "")
	wantErr(t, err, ErrNoLicenseAvailable)
	if got := e.listEnrollment(acme, "acme", en.ID).Uses; got != 3 {
		t.Fatalf("a refused enrollment was counted: uses %d, want 3", got)
	}
	if _, err := e.lg.GetDevice(ctx, acme, "dev-4"); err == nil {
		t.Fatal("a refused enrollment registered its device")
	}
}

func TestEnrollmentLicensePoolRetryKeepsItsLicense(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, _ := e.tree()
	e.create(dist, std("acme"))
	_, code := e.enrollment(acme, EnrollmentInput{CustomerID: "acme", LicensePool: true})
	req := activationRequest(newDeviceKey(t), "dev-1", "sensor-a")
	first := e.redeem(req, code)
	again := e.redeem(req, code)
	if !again.Retry || again.License == nil || again.License.ID != first.License.ID {
		t.Fatalf("retry got %+v, first %+v", again.License, first.License)
	}
	if n := len(e.answerLicenses(again.Response, "dev-1")); n != 1 {
		t.Fatalf("retry answer carries %d tokens, want 1", n)
	}
}

func TestEnrollmentNeedsAdminWhoManagesTheCustomer(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, beta := e.tree()
	in := EnrollmentInput{CustomerID: "acme"}
	_, _, err := e.lg.CreateEnrollment(ctx, as(acme, RoleOperator), in)
	wantErr(t, err, ErrForbidden)
	_, _, err = e.lg.CreateEnrollment(ctx, beta, in)
	wantErr(t, err, ErrNotFound)
	_, _, err = e.lg.CreateEnrollment(ctx, dist, in) // acme does not allow its superiors to manage
	wantErr(t, err, ErrForbidden)
	en, _ := e.enrollment(acme, in)
	_, err = e.lg.RevokeEnrollment(ctx, beta, en.ID)
	wantErr(t, err, ErrNotFound)
	_, err = e.lg.RevokeEnrollment(ctx, as(acme, RoleViewer), en.ID)
	wantErr(t, err, ErrForbidden)
	if es, err := e.lg.ListEnrollments(ctx, dist, "acme"); err != nil || len(es) != 1 {
		t.Fatalf("the issuing chain lists %d codes, %v", len(es), err)
	}
	_, err = e.lg.ListEnrollments(ctx, beta, "acme")
	wantErr(t, err, ErrNotFound)
}

func TestEnrollmentInputBounds(t *testing.T) {
	e := newEnv(t)
	_, acme, _, _ := e.tree()
	for name, in := range map[string]EnrollmentInput{
		"error/negative_uses":   {CustomerID: "acme", MaxUses: -1},
		"error/too_many_uses":   {CustomerID: "acme", MaxUses: MaxEnrollmentUses + 1},
		"error/expiry_too_far":  {CustomerID: "acme", ExpiresIn: MaxEnrollmentLifetime + time.Hour},
		"error/bad_model":       {CustomerID: "acme", Models: []string{"a b"}},
		"error/negative_expiry": {CustomerID: "acme", ExpiresIn: -time.Hour},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := e.lg.CreateEnrollment(ctx, acme, in)
			wantErr(t, err, ErrInvalid)
		})
	}
}

func TestEnrollmentCodeUsesHoldUnderConcurrentRedemptions(t *testing.T) {
	e := newEnv(t)
	_, acme, _, _ := e.tree()
	const uses, devices = 5, 12
	en, code := e.enrollment(acme, EnrollmentInput{CustomerID: "acme", MaxUses: uses})
	reqs := make([]*airgap.ActivationRequest, devices)
	for i := range reqs {
		reqs[i] = activationRequest(newDeviceKey(t), fmt.Sprintf("dev-%d", i), "sensor-a")
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, usedUp := 0, 0
	for _, req := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.lg.Redeem(ctx, req, code, "")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, ErrEnrollmentUsedUp):
				usedUp++
			default:
				t.Errorf("redeem %s: %v", req.DeviceID, err)
			}
		}()
	}
	wg.Wait()
	if ok != uses || usedUp != devices-uses {
		t.Fatalf("%d enrolled, %d refused used up; want %d and %d", ok, usedUp, uses, devices-uses)
	}
	if got := e.listEnrollment(acme, "acme", en.ID); got.Uses != uses || got.State(e.clk.Now()) != EnrollmentUsedUp {
		t.Fatalf("record %+v", got)
	}
	ds, _, err := e.lg.ListDevices(ctx, acme, "acme", "", 0)
	if err != nil || len(ds) != uses {
		t.Fatalf("%d devices registered, want %d: %v", len(ds), uses, err)
	}
}
