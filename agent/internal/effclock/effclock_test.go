package effclock

import (
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/agent/internal/store"
	"github.com/tollgate-iot/tollgate/shared/clock"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func TestEffectiveClock(t *testing.T) {
	tests := []struct {
		name       string
		persisted  store.ClockState
		server     time.Time
		steps      []time.Time // wall clock readings before the checked one
		wall       time.Time
		wantEff    time.Time
		wantTamper bool
	}{
		{"ok/follows-wall", store.ClockState{}, time.Time{}, nil, t0, t0, false},
		{"ok/small-step-back-within-tolerance", store.ClockState{}, time.Time{},
			[]time.Time{t0}, t0.Add(-30 * time.Minute), t0, false},
		{"error/set-back-2-days-is-tamper", store.ClockState{}, time.Time{},
			[]time.Time{t0}, t0.Add(-48 * time.Hour), t0, true},
		{"error/tamper-survives-restart", store.ClockState{HighWater: t0.Unix()}, time.Time{},
			nil, t0.Add(-48 * time.Hour), t0, true},
		{"ok/tamper-clears-when-clock-fixed", store.ClockState{}, time.Time{},
			[]time.Time{t0, t0.Add(-48 * time.Hour)}, t0.Add(time.Minute), t0.Add(time.Minute), false},
		{"ok/server-time-is-a-floor", store.ClockState{}, t0.Add(3 * time.Hour),
			nil, t0, t0.Add(3 * time.Hour), false},
		{"ok/boot-at-1970-runs-on-anchor", store.ClockState{HighWater: t0.Unix()}, time.Time{},
			[]time.Time{time.Unix(5, 0)}, time.Unix(3605, 0), t0.Add(time.Hour), false},
		{"ok/first-boot-at-1970-anchors-on-server-time", store.ClockState{}, t0,
			[]time.Time{time.Unix(0, 0)}, time.Unix(60, 0), t0.Add(time.Minute), false},
		{"ok/clock-set-after-1970-boot", store.ClockState{HighWater: t0.Unix()}, time.Time{},
			[]time.Time{time.Unix(5, 0)}, t0.Add(2 * time.Hour), t0.Add(2 * time.Hour), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := clock.NewFake(t0)
			c := New(fake, tt.persisted, time.Hour)
			if !tt.server.IsZero() {
				c.ObserveServerTime(tt.server.Unix())
			}
			for _, s := range tt.steps {
				fake.Set(s)
				c.Now()
			}
			fake.Set(tt.wall)
			eff, tamper := c.Now()
			if got := time.Unix(0, eff).UTC(); !got.Equal(tt.wantEff) || tamper != tt.wantTamper {
				t.Fatalf("Now = %v tamper=%v, want %v tamper=%v", got, tamper, tt.wantEff, tt.wantTamper)
			}
		})
	}
}

func TestNeverBackwards(t *testing.T) {
	fake := clock.NewFake(t0)
	c := New(fake, store.ClockState{}, time.Hour)
	last := int64(0)
	for i, d := range []time.Duration{0, time.Minute, -50 * time.Minute, 2 * time.Hour, -72 * time.Hour, time.Second} {
		fake.Advance(d)
		eff, _ := c.Now()
		if eff < last {
			t.Fatalf("step %d: effective time went back from %d to %d", i, last, eff)
		}
		last = eff
	}
	if c.TamperEvents() != 1 {
		t.Fatalf("tamper events = %d, want 1", c.TamperEvents())
	}
	st := c.State()
	if st.HighWater < last/int64(time.Second) {
		t.Fatalf("persisted high water %d behind %d", st.HighWater, last)
	}
}

func BenchmarkNow(b *testing.B) {
	c := New(clock.Real{}, store.ClockState{}, time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		c.Now()
	}
}
