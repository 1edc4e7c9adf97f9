// Command benchratio reads `go test -bench` output on stdin and prints the
// benchmark table (medians over -count runs) followed by the ratios that the
// project's speed targets are stated in, each measured within the same run.
//
// Ratios are listed in ratios.txt beside this file, one per line:
//
//	time|rate|metric NUMERATOR DENOMINATOR <=|>= TARGET|- DESCRIPTION...
//
// "time" divides ns/op; "rate" divides ops/s (the inverse), so a rate ratio
// of 0.8 means the numerator runs at 80 % of the denominator's speed;
// "metric" takes the median of the metric DENOMINATOR that benchmark
// NUMERATOR reports itself (a ratio measured inside one benchmark).
package main

import (
	"bufio"
	_ "embed"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
)

//go:embed ratios.txt
var ratiosFile string

type sample struct {
	metrics map[string][]float64 // unit → values
	pkg     string
}

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "error: benchratio:", err)
		os.Exit(1)
	}
}

func run(in io.Reader, out io.Writer) error {
	results, order, err := parse(in)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "benchmark\truns\tns/op\tB/op\tallocs/op\tother metrics\t")
	for _, name := range order {
		r := results[name]
		var other []string
		for unit, vs := range r.metrics {
			if unit != "ns/op" && unit != "B/op" && unit != "allocs/op" && unit != "MB/s" {
				other = append(other, fmt.Sprintf("%s %s", fmtNum(median(vs)), unit))
			}
		}
		sort.Strings(other)
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t\n", name, len(r.metrics["ns/op"]),
			fmtNum(median(r.metrics["ns/op"])), fmtNum(median(r.metrics["B/op"])), fmtNum(median(r.metrics["allocs/op"])), strings.Join(other, ", "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(out)
	fmt.Fprintln(out, "ratios (medians, same run):")
	return printRatios(out, results)
}

func parse(in io.Reader) (map[string]*sample, []string, error) {
	results := map[string]*sample{}
	var order []string
	pkg := ""
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = p
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := f[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			name = name[:i] // drop the GOMAXPROCS suffix
		}
		r := results[name]
		if r == nil {
			r = &sample{metrics: map[string][]float64{}, pkg: pkg}
			results[name] = r
			order = append(order, name)
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: value %q: %v", name, f[i], err)
			}
			r.metrics[f[i+1]] = append(r.metrics[f[i+1]], v)
		}
	}
	return results, order, sc.Err()
}

func printRatios(out io.Writer, results map[string]*sample) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	for _, line := range strings.Split(ratiosFile, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 6 {
			return fmt.Errorf("ratios.txt: short line %q", line)
		}
		kind, num, den, op := f[0], f[1], f[2], f[3]
		judge := f[4] != "-"
		target, err := strconv.ParseFloat(f[4], 64)
		if judge && err != nil {
			return fmt.Errorf("ratios.txt: target %q: %v", f[4], err)
		}
		desc := strings.Join(f[5:], " ")
		var ratio float64
		switch kind {
		case "metric": // a ratio the benchmark NUMERATOR reports as metric DENOMINATOR
			ratio = lookupMetric(results, num, den)
		default:
			a, b := lookup(results, num), lookup(results, den)
			if a != 0 && b != 0 {
				ratio = a / b
				if kind == "rate" {
					ratio = b / a
				}
			}
		}
		if ratio == 0 {
			fmt.Fprintf(tw, "  %s\tnot measured in this run\t\n", desc)
			continue
		}
		if !judge {
			fmt.Fprintf(tw, "  %s\t%.3f\t\t\n", desc, ratio)
			continue
		}
		verdict := "meets"
		if op == "<=" && ratio > target || op == ">=" && ratio < target {
			verdict = "MISSES"
		}
		fmt.Fprintf(tw, "  %s\t%.3f\t(target %s %.2f: %s)\t\n", desc, ratio, op, target, verdict)
	}
	return tw.Flush()
}

func lookup(results map[string]*sample, name string) float64 {
	r := results["Benchmark"+name]
	if r == nil {
		return 0
	}
	return median(r.metrics["ns/op"])
}

func lookupMetric(results map[string]*sample, name, unit string) float64 {
	r := results["Benchmark"+name]
	if r == nil {
		return 0
	}
	return median(r.metrics[unit])
}

func median(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	s := append([]float64(nil), vs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func fmtNum(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}
