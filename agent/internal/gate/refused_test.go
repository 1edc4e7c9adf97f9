package gate

import (
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/agent/internal/limits"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// TestRefusedCountedPerDeviceAndHour: every refused sample of a device is
// counted in its hour (what a sync reports as refused), pending until the
// store holds it, and counting it allocates nothing.
func TestRefusedCountedPerDeviceAndHour(t *testing.T) {
	f := newFixture(t, func(l *token.License) { l.MaxSamplesPerHour = 1 })
	d := f.gate.Lookup(dev)
	decideN(t, f, 24, OK) // the budget: 1 an hour × 24
	decideN(t, f, 3, OverBudget)
	hour := f.gate.Decide(d).Hour // a fourth refusal
	f.clk.Advance(time.Hour)
	decideN(t, f, 2, OverBudget) // the budget is per 24 hours: still over
	p := d.RefusedPending(nil)   // in ring order: sort by hour
	if len(p) == 2 && p[0].Hour > p[1].Hour {
		p[0], p[1] = p[1], p[0]
	}
	if len(p) != 2 || p[0].Hour != hour || p[1].Hour != hour+1 || p[0].Refused != 4 || p[1].Refused != 2 {
		t.Fatalf("pending %+v, want hour %d: 4, the next: 2", p, hour)
	}
	if p[0].By[OverBudget] != 4 || sumBy(&p[0]) != 4 || p[1].By[OverBudget] != 2 || sumBy(&p[1]) != 2 {
		t.Fatalf("by reason %v / %v, want 4 and 2 over_budget", p[0].By, p[1].By)
	}
	for _, h := range p {
		d.RefusedSaved(h)
	}
	if p := d.RefusedPending(nil); len(p) != 0 {
		t.Fatalf("pending after saving: %+v", p)
	}
	decideN(t, f, 1, OverBudget)
	if p := d.RefusedPending(nil); len(p) != 1 || p[0].Refused != 3 || p[0].Saved != 2 || p[0].By[OverBudget] != 1 || sumBy(&p[0]) != 1 {
		t.Fatalf("pending after one more: %+v (by reason: only what is not saved)", p)
	}
	if n := testing.AllocsPerRun(1000, func() { f.gate.Decide(d) }); n != 0 {
		t.Fatalf("a refused decision allocates %v times", n)
	}
}

// TestRefusedByReasonSavedPartly: refusals counted while a flush is
// writing stay pending after it (the flush saved what it read), by reason,
// and a slot that moves on to a newer hour takes its unsaved reasons with
// it.
func TestRefusedByReasonSavedPartly(t *testing.T) {
	f := newFixture(t, func(l *token.License) { l.MaxSamplesPerHour = 1 })
	d := f.gate.Lookup(dev)
	decideN(t, f, 24, OK)
	decideN(t, f, 2, OverBudget)
	p := d.RefusedPending(nil)
	decideN(t, f, 3, OverBudget) // while the flush writes p
	d.RefusedSaved(p[0])
	if q := d.RefusedPending(nil); len(q) != 1 || q[0].Refused != 5 || q[0].Saved != 2 || q[0].By[OverBudget] != 3 {
		t.Fatalf("pending %+v, want 5 refused, 2 saved, 3 over_budget unsaved", q)
	}
	d.RefusedSaved(d.RefusedPending(nil)[0])
	// A week and more of hours never saved (the store failing): the
	// hours with reasons pending are bounded, the oldest dropped (their
	// totals stay pending, without reasons); saving them empties it.
	d.mu.Lock()
	for h := int64(0); h < limits.BudgetHours+32; h++ {
		d.refuse(1_000_000+h, NoDays)
	}
	n := len(d.pend)
	d.mu.Unlock()
	pend := d.RefusedPending(nil)
	if n != limits.PendingReasonHours || len(pend) != limits.BudgetHours {
		t.Fatalf("%d hours by reason and %d pending, want %d and %d", n, len(pend), limits.PendingReasonHours, limits.BudgetHours)
	}
	withReason := 0
	for _, h := range pend {
		if h.By[NoDays] == 1 {
			withReason++
			if h.Hour < 1_000_000+limits.BudgetHours+32-limits.PendingReasonHours {
				t.Fatalf("hour %d kept its reason, an older one than the newest %d", h.Hour, limits.PendingReasonHours)
			}
		}
		d.RefusedSaved(h)
	}
	if withReason != limits.PendingReasonHours {
		t.Fatalf("%d hours with their reason, want %d", withReason, limits.PendingReasonHours)
	}
	d.mu.Lock()
	n = len(d.pend)
	d.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d hours by reason left after saving all", n)
	}
}

// BenchmarkGateDecisionRefused is the refusal path under a flood of
// samples past the budget: the device's lock, its hour's count and the
// count by reason, nothing allocated.
func BenchmarkGateDecisionRefused(b *testing.B) {
	f := newFixture(b, func(l *token.License) { l.MaxSamplesPerHour = 1 })
	d := f.gate.Lookup(dev)
	for range 24 {
		f.gate.Decide(d)
	}
	b.ReportAllocs()
	for b.Loop() {
		if r := f.gate.Decide(d).Reason; r != OverBudget {
			b.Fatalf("decided %v", r)
		}
	}
}
