package simclock

import (
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/shared/clock"
)

type fixed time.Time

func (f fixed) Now() time.Time                       { return time.Time(f) }
func (fixed) NewTicker(d time.Duration) clock.Ticker { return clock.Real{}.NewTicker(d) }
func (fixed) After(d time.Duration) <-chan time.Time { return clock.Real{}.After(d) }

// TestAgentsFormula: the simulated time is origin + (real − origin) ×
// speed, tollgate-agent's --clock-speed formula.
func TestAgentsFormula(t *testing.T) {
	origin := time.Date(2026, 11, 22, 18, 0, 0, 0, time.UTC)
	s := Scaled{Real: fixed(origin.Add(10 * time.Second)), Origin: origin, Speed: 8640}
	if got, want := s.Now(), origin.Add(24*time.Hour); !got.Equal(want) {
		t.Fatalf("Now = %v, want %v", got, want)
	}
	if d := s.RealAfter(origin.Add(48 * time.Hour)); d != 10*time.Second {
		t.Fatalf("RealAfter = %v, want 10s", d)
	}
	if d := s.RealAfter(origin); d != 0 {
		t.Fatalf("RealAfter(past) = %v", d)
	}
}
