package store

import (
	"fmt"
	"math"
	"testing"
)

// TestNumIsFmtZeroPadded: the fast num gives exactly fmt's %020d, which
// every stored numbered key was built with.
func TestNumIsFmtZeroPadded(t *testing.T) {
	for _, n := range []int64{0, 1, 9, 10, 3600, 1796083200, 99999999999, math.MaxInt64, -1, math.MinInt64} {
		if got, want := num(n), fmt.Sprintf("%020d", n); got != want {
			t.Fatalf("num(%d) = %q, want %q", n, got, want)
		}
	}
}

func BenchmarkNum(b *testing.B) {
	for b.Loop() {
		_ = num(1796083200)
	}
}
