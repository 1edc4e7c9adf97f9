package gate

import (
	"testing"
	"time"

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
	for _, h := range p {
		d.RefusedSaved(h)
	}
	if p := d.RefusedPending(nil); len(p) != 0 {
		t.Fatalf("pending after saving: %+v", p)
	}
	decideN(t, f, 1, OverBudget)
	if p := d.RefusedPending(nil); len(p) != 1 || p[0].Refused != 3 || p[0].Saved != 2 {
		t.Fatalf("pending after one more: %+v", p)
	}
	if n := testing.AllocsPerRun(1000, func() { f.gate.Decide(d) }); n != 0 {
		t.Fatalf("a refused decision allocates %v times", n)
	}
}
