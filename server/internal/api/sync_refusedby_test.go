package api

import (
	"strings"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/shared/limits"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// TestSyncRefusedByStrict: a hostile agent's refused_by — a reason the
// server does not know, a negative or zero count, reasons adding up past
// refused, more than MaxRefusedByReasons of them — is refused 422 with its
// own code and applies nothing of the report; a valid one is kept and
// shown in the device's hourly counts and its last 24 hours and 7 days.
func TestSyncRefusedByStrict(t *testing.T) {
	e := newSyncEnv(t, 5)
	hour := e.clk.Now().Add(-time.Hour).Truncate(time.Hour).Unix()
	tests := []struct {
		name string
		by   map[string]int64
		code string
	}{
		{"unknown", map[string]int64{"free_samples": 1}, "unknown_refusal_reason"},
		{"negative", map[string]int64{wire.ReasonOverBudget: -5}, "bad_refusal_count"},
		{"zero", map[string]int64{wire.ReasonOverBudget: 0}, "bad_refusal_count"},
		{"huge", map[string]int64{wire.ReasonOverBudget: 1 << 62}, "bad_refusal_count"},
		{"past-refused", map[string]int64{wire.ReasonOverBudget: 6, wire.ReasonNoDays: 5}, "refusals_past_refused"},
		{"too-many", map[string]int64{wire.ReasonOverBudget: 1, wire.ReasonNoDays: 1, wire.ReasonExpired: 1, wire.ReasonRevoked: 1}, "too_many_refusal_reasons"},
	}
	if len(tests[len(tests)-1].by) != limits.MaxRefusedByReasons+1 {
		t.Fatal("the too-many case must have one reason past the bound")
	}
	for _, tc := range tests {
		t.Run("error/"+tc.name, func(t *testing.T) {
			before := e.snapshot()
			r := e.report("dev-a")
			r.Counts = []syncproto.HourlyCount{{DeviceID: "dev-a", Hour: hour, Accepted: 3, Refused: 10, RefusedBy: tc.by}}
			code, body := e.post(sign(t, e.dev["dev-a"], r), "text/plain")
			if code != 422 || !strings.Contains(body, `"`+tc.code+`"`) {
				t.Fatalf("%d %s, want 422 %s", code, body, tc.code)
			}
			if after := e.snapshot(); after != before {
				t.Fatalf("a refused report changed the ledger:\n%s\n%s", before, after)
			}
		})
	}
	r := e.report("dev-a")
	r.Counts = []syncproto.HourlyCount{{DeviceID: "dev-a", Hour: hour, Accepted: 3, Refused: 10,
		RefusedBy: map[string]int64{wire.ReasonOverBudget: 6, wire.ReasonNoDays: 3}}}
	e.sync(r)
	s := e.status("dev-a")
	if len(s.Hourly) != 1 || s.Hourly[0].Refused != 10 || len(s.Hourly[0].RefusedBy) != 2 ||
		s.Hourly[0].RefusedBy[wire.ReasonOverBudget] != 6 || s.Hourly[0].RefusedBy[wire.ReasonNoDays] != 3 {
		t.Fatalf("hourly %+v, want 10 refused: 6 over_budget, 3 no_days", s.Hourly)
	}
	if s.Last24h.Refused != 10 || s.Last24h.RefusedBy[wire.ReasonOverBudget] != 6 || s.Last7d.RefusedBy[wire.ReasonNoDays] != 3 {
		t.Fatalf("last 24 h %+v, 7 d %+v, want the hour's reasons", s.Last24h, s.Last7d)
	}
}
