package api

import (
	"reflect"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/shared/syncproto"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// TestSyncFreshnessOnWallClockNotEffectiveTime: an agent on a simulation
// clock reports records days ahead; its request is fresh by its wall
// clock (sent_wall), and stale only when that is outside the window.
func TestSyncFreshnessOnWallClockNotEffectiveTime(t *testing.T) {
	e := newSyncEnv(t, 30)
	now := e.clk.Now()
	ahead := now.Add(5 * 24 * time.Hour) // the agent's effective time
	r := e.report("dev-a")
	r.SentAt, r.SentWall = ahead.Unix(), now.Unix()
	r.Deductions = []syncproto.Deduction{deduction(1, e.lic["dev-a"], ahead, 30)}
	if resp := e.sync(r); resp.AckedSeq != 1 {
		t.Fatalf("acked %d", resp.AckedSeq)
	}
	tests := []struct {
		name     string
		sentAt   time.Time
		sentWall time.Time
	}{
		{"error/wall-clock-stale", now, now.Add(-SyncWindow - time.Second)},
		{"error/wall-clock-from-the-future", ahead, now.Add(SyncWindow + time.Second)},
		{"error/no-wall-clock-effective-time-ahead", ahead, time.Unix(0, 0)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.report("dev-a")
			r.SentAt, r.SentWall = tc.sentAt.Unix(), tc.sentWall.Unix()
			r.Deductions = []syncproto.Deduction{deduction(2, e.lic["dev-a"], ahead, 29)}
			before := e.snapshot()
			code, raw := e.post(sign(t, e.dev["dev-a"], r), "text/plain")
			if code != 409 || errCode([]byte(raw)) != "stale_request" {
				t.Fatalf("%d %s, want 409 stale_request", code, raw)
			}
			if after := e.snapshot(); after != before {
				t.Fatalf("a stale request changed the ledger")
			}
		})
	}
}

// childEnv binds acme's spare day license to child-a, dev-a's child.
func childEnv(t *testing.T) *syncEnv {
	e := newSyncEnv(t, 30)
	e.must(200, "POST", "/v1/licenses/"+e.lic["spare-acme"]+"/bind", e.key["acme"], wire.BindRequest{DeviceID: "child-a"}, nil)
	e.lic["child-a"] = e.lic["spare-acme"]
	return e
}

// TestSyncGatewayCarriesChildDeductions: a gateway reports its child's
// own day deductions; they are reconciled under the child's (device, seq),
// acknowledged per child, and a replay charges nothing again.
func TestSyncGatewayCarriesChildDeductions(t *testing.T) {
	e := childEnv(t)
	t0 := e.clk.Now()
	r := e.report("dev-a")
	r.Deductions = []syncproto.Deduction{deduction(1, e.lic["dev-a"], t0, 30)}
	for _, seq := range []int64{1, 2, 5} { // the child's seqs 3 and 4 are missing
		d := deduction(seq, e.lic["child-a"], t0.Add(time.Duration(seq)*time.Hour), 31-seq)
		d.DeviceID = "child-a"
		r.Deductions = append(r.Deductions, d)
	}
	want := []syncproto.ChildAck{{DeviceID: "child-a", AckedSeq: 2, Missing: []syncproto.SeqRange{{From: 3, To: 4}}}}
	for range 2 {
		r.Nonce = nonce(t)
		resp := e.sync(r)
		if resp.AckedSeq != 1 || len(resp.Missing) != 0 || !reflect.DeepEqual(resp.Children, want) {
			t.Fatalf("answer: acked %d missing %v children %+v", resp.AckedSeq, resp.Missing, resp.Children)
		}
	}
	if gw, child := e.availableDays(e.lic["dev-a"]), e.availableDays(e.lic["child-a"]); gw != 29 || child != 27 {
		t.Fatalf("days: gateway %d child %d, want 29 27", gw, child)
	}
	if s := e.status("child-a"); s.AckedSeq != 2 || s.HighestSeq != 5 || s.ForkCount != 0 {
		t.Fatalf("child status %+v", s)
	}
	if s := e.status("dev-a"); s.AckedSeq != 1 || s.HighestSeq != 1 {
		t.Fatalf("gateway status %+v", s)
	}
	// A report without child records answers without children.
	if resp := e.sync(e.report("dev-a")); resp.Children != nil {
		t.Fatalf("children %+v in an answer to a report without child records", resp.Children)
	}
}

func TestSyncChildDeductionBadInputChangesNothing(t *testing.T) {
	tests := []struct {
		name  string
		child string
		lic   func(e *syncEnv) string
	}{
		{"error/device-of-another-customer", "dev-b", func(e *syncEnv) string { return e.lic["dev-b"] }},
		{"error/unknown-device", "ghost", func(e *syncEnv) string { return e.lic["child-a"] }},
		{"error/gateway-license-not-the-childs", "child-a", func(e *syncEnv) string { return e.lic["dev-a"] }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := childEnv(t)
			r := e.report("dev-a")
			r.Deductions = []syncproto.Deduction{deduction(1, e.lic["dev-a"], e.clk.Now(), 30)} // must not be applied
			d := deduction(1, tc.lic(e), e.clk.Now(), 30)
			d.DeviceID = tc.child
			r.Deductions = append(r.Deductions, d)
			before := e.snapshot()
			code, raw := e.post(sign(t, e.dev["dev-a"], r), "text/plain")
			if code != 422 || errCode([]byte(raw)) != "not_this_device" {
				t.Fatalf("%d %s, want 422 not_this_device", code, raw)
			}
			if after := e.snapshot(); after != before {
				t.Fatalf("a refused request changed the ledger:\n%s\nwant\n%s", after, before)
			}
		})
	}
}
