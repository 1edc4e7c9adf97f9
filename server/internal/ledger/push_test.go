package ledger

import (
	"slices"
	"testing"

	"github.com/tollgate-iot/tollgate/shared/syncproto"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// TestNewTokenVersionsArePushed: every change that signs a new token
// version for a device (bind, top-up, deduction, resume) names the device
// in Enforcement.Tokens once; changes that sign none (create, suspend,
// unbind) name none. PushDocument is a signed sync answer with an empty
// nonce that carries the newest token and the current list.
func TestNewTokenVersionsArePushed(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, _ := e.tree()
	e.device(acme, "acme", "dev-1", "sensor-a")
	rec := &recorder{}
	e.lg.SetEnforcer(rec)
	l := e.create(dist, days("acme", 5))
	take := func() []string {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		out := ids(rec.pushed)
		rec.pushed = nil
		return out
	}
	pushed := []string{"acme/dev-1"}
	tests := []struct {
		name string
		do   func() error
		want []string
	}{
		{"create", func() error { e.create(dist, days("acme", 1)); return nil }, []string{}},
		{"bind", func() error { e.bind(acme, l.ID, "dev-1"); return nil }, pushed},
		{"add-days", func() error { _, err := e.lg.AddDays(ctx, dist, l.ID, 10); return err }, pushed},
		{"deduct", func() error { _, err := e.lg.Deduct(ctx, DeductInput{DeviceID: "dev-1", Seq: 1}); return err }, pushed},
		{"deduct-replay", func() error { _, err := e.lg.Deduct(ctx, DeductInput{DeviceID: "dev-1", Seq: 1}); return err }, []string{}},
		{"suspend", func() error { _, err := e.lg.Suspend(ctx, dist, l.ID); return err }, []string{}},
		{"resume", func() error { _, err := e.lg.Resume(ctx, dist, l.ID); return err }, pushed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.do(); err != nil {
				t.Fatal(err)
			}
			if got := take(); !slices.Equal(got, tc.want) {
				t.Fatalf("pushed to %v, want %v", got, tc.want)
			}
		})
	}

	doc, err := e.lg.PushDocument(ctx, "dev-1")
	if err != nil {
		t.Fatal(err)
	}
	trust, _ := e.ks.Trust()
	r, err := syncproto.OpenResponse(trust, "dev-1", "", doc.Text)
	if err != nil {
		t.Fatalf("push does not open as a push (empty nonce): %v", err)
	}
	if doc.CustomerID != "acme" || doc.Tokens != 1 || len(r.Tokens) != 1 || r.AckedSeq != 0 || len(r.Missing) != 0 ||
		r.ServerTime != e.clk.Now().Unix() {
		t.Fatalf("push %+v: %+v", doc, r)
	}
	tok, err := token.ParseLicense(trust, r.Tokens[0])
	if err != nil || tok.LicenseID != l.ID || tok.Version != e.get(l.ID).Version || tok.Days != 14 {
		t.Fatalf("pushed token %+v, %v; want the newest version of %s with 14 days", tok, err, l.ID)
	}
	rl, err := token.ParseRevocationList(trust, r.RevocationList)
	if err != nil || rl.Seq != e.revocationList().Seq {
		t.Fatalf("pushed list %+v, %v; want the current one", rl, err)
	}
	if _, err := syncproto.OpenResponse(trust, "dev-1", "AAAAAAAAAAAAAAAAAAAAAA", doc.Text); err == nil {
		t.Fatal("a push opened as the answer to a sync request")
	}
	if _, err := e.lg.PushDocument(ctx, "nobody"); err == nil {
		t.Fatal("push for an unknown device")
	}
}

// TestChildTokensArePushedToTheGateway: a child device runs no agent; a new
// token for it is pushed to its gateway, whose push carries the gateway's
// and its children's tokens.
func TestChildTokensArePushedToTheGateway(t *testing.T) {
	e := newEnv(t)
	dist, acme, _, _ := e.tree()
	e.device(acme, "acme", "gw-1", "sensor-gw")
	e.mustChild(acme, "acme", "c-1", "gw-1")
	rec := &recorder{}
	e.lg.SetEnforcer(rec)
	gl, cl := e.create(dist, std("acme")), e.create(dist, std("acme"))
	e.bind(acme, gl.ID, "gw-1")
	e.bind(acme, cl.ID, "c-1")
	rec.mu.Lock()
	got := ids(rec.pushed)
	rec.mu.Unlock()
	if !slices.Equal(got, []string{"acme/gw-1", "acme/gw-1"}) {
		t.Fatalf("pushed to %v, want the gateway twice", got)
	}
	doc, err := e.lg.PushDocument(ctx, "gw-1")
	if err != nil {
		t.Fatal(err)
	}
	trust, _ := e.ks.Trust()
	r, err := syncproto.OpenResponse(trust, "gw-1", "", doc.Text)
	if err != nil || len(r.Tokens) != 2 {
		t.Fatalf("gateway push %+v, %v; want its token and its child's", r, err)
	}
	devs := []string{}
	for _, text := range r.Tokens {
		l, err := token.ParseLicense(trust, text)
		if err != nil {
			t.Fatal(err)
		}
		devs = append(devs, l.DeviceID)
	}
	if slices.Sort(devs); !slices.Equal(devs, []string{"c-1", "gw-1"}) {
		t.Fatalf("tokens for %v", devs)
	}
}
