package pattern

import (
	"testing"
	"time"
)

// BenchmarkAppend schedules one simulated minute of a device at 3,600
// samples per hour per op (60 instants), reusing the slice as the driver does.
func BenchmarkAppend(b *testing.B) {
	p := Pattern{Kind: Steady, Rate: 3600}
	buf := make([]time.Time, 0, 128)
	from := day0
	for b.Loop() {
		to := from.Add(time.Minute)
		buf = p.Append(buf[:0], from, to)
		from = to
	}
}
