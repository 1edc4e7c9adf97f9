package pattern

import (
	"errors"
	"testing"
	"time"
)

var day0 = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     Kind
		err      error
	}{
		{"ok/steady", "steady", Steady, nil},
		{"ok/shift8h", "shift8h", Shift8h, nil},
		{"ok/burst", "burst", Burst, nil},
		{"error/empty", "", 0, ErrUnknown},
		{"error/case", "Steady", 0, ErrUnknown},
		{"error/space", "steady ", 0, ErrUnknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.in)
			if !errors.Is(err, tc.err) || got != tc.want {
				t.Fatalf("Parse(%q) = %v, %v; want %v, %v", tc.in, got, err, tc.want, tc.err)
			}
			if err == nil && got.String() != tc.in {
				t.Fatalf("String() = %q", got.String())
			}
		})
	}
}

// TestDailyVolume: every pattern sends rate × 24 a day, whatever the rate.
func TestDailyVolume(t *testing.T) {
	for _, k := range []Kind{Steady, Shift8h, Burst} {
		for _, rate := range []int{1, 7, 60, 1000, MaxRateForTest} {
			p := Pattern{Kind: k, Rate: rate}
			for d := 0; d < 3; d++ {
				from := day0.Add(time.Duration(d) * 24 * time.Hour)
				if got := p.Count(from, from.Add(24*time.Hour)); got != rate*24 {
					t.Fatalf("%v at %d/h: day %d carries %d samples, want %d", k, rate, d, got, rate*24)
				}
			}
		}
	}
}

// MaxRateForTest is the largest rate the flags allow.
const MaxRateForTest = 100_000

func TestShift8hSendsOnlyInItsShift(t *testing.T) {
	p := Pattern{Kind: Shift8h, Rate: 60}
	got := p.Append(nil, day0.Add(-time.Nanosecond), day0.Add(48*time.Hour))
	if len(got) != 2*24*60 {
		t.Fatalf("%d samples in two days, want %d", len(got), 2*24*60)
	}
	perHour := map[int]int{}
	for _, ts := range got {
		h := ts.Hour()
		if h < ShiftStartHour || h >= ShiftStartHour+ShiftHours {
			t.Fatalf("sample at %v, outside the shift", ts)
		}
		perHour[h]++
	}
	for h := ShiftStartHour; h < ShiftStartHour+ShiftHours; h++ {
		if perHour[h] != 2*180 {
			t.Fatalf("hour %d carries %d samples over two days, want 360 (3× the rate)", h, perHour[h])
		}
	}
	if n := p.Count(day0.Add(14*time.Hour-time.Nanosecond), day0.Add(30*time.Hour-time.Nanosecond)); n != 0 {
		t.Fatalf("%d samples from the end of the shift to the next one, want 0", n)
	}
}

func TestBurstIsShortAndPeriodic(t *testing.T) {
	p := Pattern{Kind: Burst, Rate: 10}
	got := p.Append(nil, day0.Add(-time.Nanosecond), day0.Add(24*time.Hour-time.Nanosecond))
	if len(got) != 240 {
		t.Fatalf("%d samples, want 240", len(got))
	}
	for _, ts := range got {
		if ts.Hour()%BurstEvery != 0 || ts.Sub(ts.Truncate(time.Hour)) >= BurstSpread {
			t.Fatalf("sample at %v, outside a burst", ts)
		}
	}
}

// TestSplitInvariance: asking in many small steps yields exactly the
// instants of one big ask, in order, none twice — the driver's tick does
// not change the schedule.
func TestSplitInvariance(t *testing.T) {
	for _, k := range []Kind{Steady, Shift8h, Burst} {
		p := Pattern{Kind: k, Rate: 97}
		from := day0.Add(5*time.Hour + 17*time.Minute + 3*time.Nanosecond)
		to := from.Add(31 * time.Hour)
		whole := p.Append(nil, from, to)
		var parts []time.Time
		for _, step := range []time.Duration{time.Millisecond * 7919, 13 * time.Second, 3 * time.Minute} {
			parts = parts[:0]
			for t0 := from; t0.Before(to); {
				t1 := t0.Add(step)
				if t1.After(to) {
					t1 = to
				}
				parts = p.Append(parts, t0, t1)
				if c := p.Count(t0, t1); c != 0 && !parts[len(parts)-1].After(t0) {
					t.Fatalf("instant %v not after %v", parts[len(parts)-1], t0)
				}
				t0 = t1
			}
			if len(parts) != len(whole) {
				t.Fatalf("%v step %v: %d samples, whole range %d", k, step, len(parts), len(whole))
			}
			for i := range whole {
				if !parts[i].Equal(whole[i]) {
					t.Fatalf("%v step %v: sample %d at %v, whole range %v", k, step, i, parts[i], whole[i])
				}
				if i > 0 && !whole[i].After(whole[i-1]) {
					t.Fatalf("%v: instants not increasing at %d", k, i)
				}
			}
		}
	}
}

func TestEmptyRanges(t *testing.T) {
	p := Pattern{Kind: Steady, Rate: 60}
	if n := p.Count(day0, day0); n != 0 {
		t.Fatalf("empty range: %d", n)
	}
	if n := p.Count(day0.Add(time.Hour), day0); n != 0 {
		t.Fatalf("reversed range: %d", n)
	}
	if n := (Pattern{Kind: Steady}).Count(day0, day0.Add(time.Hour)); n != 0 {
		t.Fatalf("rate 0: %d", n)
	}
	// (from, to]: the sample at the top of the hour belongs to the range
	// that ends there.
	if n := p.Count(day0.Add(-time.Minute), day0); n != 1 {
		t.Fatalf("range ending on an instant: %d, want 1", n)
	}
}
