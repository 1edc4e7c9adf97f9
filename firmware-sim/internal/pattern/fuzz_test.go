package pattern

import (
	"testing"
	"time"
)

func FuzzParse(f *testing.F) {
	for _, s := range []string{"steady", "shift8h", "burst", "", "Steady", "steady ", "shift8h\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := Parse(s)
		if err != nil {
			return
		}
		if k.String() != s {
			t.Fatalf("Parse(%q) = %v", s, k)
		}
	})
}

// FuzzSchedule checks Count against Append and the (from, to] bounds for
// arbitrary ranges and rates.
func FuzzSchedule(f *testing.F) {
	f.Add(uint8(1), uint32(60), int64(0), int64(3600e9))
	f.Add(uint8(2), uint32(1), int64(-5e9), int64(86400e9))
	f.Add(uint8(3), uint32(100000), int64(1), int64(60e9))
	f.Fuzz(func(t *testing.T, kind uint8, rate uint32, fromOff, span int64) {
		p := Pattern{Kind: Kind(kind%3 + 1), Rate: int(rate % 100_001)}
		if span < 0 || span > int64(72*time.Hour) || fromOff < -int64(1e6*time.Hour) || fromOff > int64(1e6*time.Hour) {
			return
		}
		from := day0.Add(time.Duration(fromOff))
		to := from.Add(time.Duration(span))
		got := p.Append(nil, from, to)
		if len(got) != p.Count(from, to) {
			t.Fatalf("Append %d, Count %d", len(got), p.Count(from, to))
		}
		for i, ts := range got {
			if !ts.After(from) || ts.After(to) || (i > 0 && !ts.After(got[i-1])) {
				t.Fatalf("instant %d %v outside (%v, %v] or out of order", i, ts, from, to)
			}
		}
	})
}
