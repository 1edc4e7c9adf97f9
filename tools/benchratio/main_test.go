package main

import (
	"bytes"
	"strings"
	"testing"
)

const sampleOutput = `goos: linux
pkg: github.com/tollgate-iot/tollgate/shared/token
BenchmarkEd25519VerifyRaw-2   	   20000	     50000 ns/op	       0 B/op	       0 allocs/op
BenchmarkEd25519VerifyRaw-2   	   20000	     60000 ns/op	       0 B/op	       0 allocs/op
BenchmarkEd25519VerifyRaw-2   	   20000	     55000 ns/op	       0 B/op	       0 allocs/op
BenchmarkVerifyLicense-2      	   20000	     66000 ns/op	  12.05 MB/s	    1344 B/op	      22 allocs/op
BenchmarkVerifyLicense-2      	   20000	     70000 ns/op	  12.05 MB/s	    1344 B/op	      22 allocs/op
BenchmarkVerifyLicense-2      	   20000	     68000 ns/op	  12.05 MB/s	    1344 B/op	      22 allocs/op
PASS
`

func TestRatioUsesMediansAndJudgesTarget(t *testing.T) {
	var out bytes.Buffer
	if err := run(strings.NewReader(sampleOutput), &out); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	// medians 68000 / 55000 = 1.236 > 1.15
	if !strings.Contains(s, "1.236") || !strings.Contains(s, "MISSES") {
		t.Fatalf("ratio line wrong:\n%s", s)
	}
	if !strings.Contains(s, "BenchmarkVerifyLicense") || !strings.Contains(s, "68000") {
		t.Fatalf("table lacks the median:\n%s", s)
	}
}

func TestMedian(t *testing.T) {
	if got := median([]float64{3, 1, 2}); got != 2 {
		t.Fatalf("median odd = %v", got)
	}
	if got := median([]float64{4, 1, 2, 3}); got != 2.5 {
		t.Fatalf("median even = %v", got)
	}
	if got := median(nil); got != 0 {
		t.Fatalf("median empty = %v", got)
	}
}

func TestMetricRatio(t *testing.T) {
	in := "BenchmarkX-2  10  100 ns/op  0.9 ratio\nBenchmarkX-2  10  100 ns/op  0.7 ratio\nBenchmarkX-2  10  100 ns/op  0.8 ratio\n"
	results, _, err := parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if got := lookupMetric(results, "X", "ratio"); got != 0.8 {
		t.Fatalf("median ratio = %v, want 0.8", got)
	}
}

// TestSyncEnginesSideBySide: the sync throughput on badger, on PostgreSQL
// and on PostgreSQL with two replicas are three consecutive ratio lines,
// each judged on its own, and a run without PostgreSQL says so instead of
// printing a zero.
func TestSyncEnginesSideBySide(t *testing.T) {
	in := "pkg: github.com/tollgate-iot/tollgate/server/internal/api\n" +
		"BenchmarkSync-2  5000  500000 ns/op  2000 syncs/s  0.12 verify-ratio\n" +
		"BenchmarkSyncPostgres-2  3000  900000 ns/op  700 syncs/s  0.04 verify-ratio\n" +
		"BenchmarkSyncPostgres2Replicas-2  3000  900000 ns/op  600 syncs/s  0.035 verify-ratio\n"
	var out bytes.Buffer
	if err := run(strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(out.String(), "\n") {
		if strings.Contains(l, "ed25519 verifies/s") || strings.Contains(l, "the same on PostgreSQL") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 3 || !strings.Contains(lines[0], "0.120") || !strings.Contains(lines[1], "0.040") ||
		!strings.Contains(lines[2], "0.035") || !strings.Contains(lines[2], "MISSES") {
		t.Fatalf("sync ratio lines wrong:\n%s", out.String())
	}

	out.Reset()
	if err := run(strings.NewReader(in[:strings.Index(in, "BenchmarkSyncPostgres")]), &out); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), "not measured in this run"); n < 2 {
		t.Fatalf("a run without PostgreSQL should say the two PostgreSQL ratios were not measured:\n%s", out.String())
	}
}
