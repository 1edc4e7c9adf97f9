package console

import (
	"cmp"
	"fmt"
	"math"
	"net/url"
	"slices"
)

// Pie charts are drawn on the server as SVG paths: no script, and the
// same numbers sit in a table beside each chart.

// pieRadius and pieCenter lay a chart out in a 120×120 view box.
const (
	pieRadius = 50.0
	pieCenter = 60.0
	// pieColors is how many slice colours the style sheet defines
	// (.s0 … .s8); further slices reuse them in turn.
	pieColors = 9
)

// pieSlice is one category of a chart.
type pieSlice struct {
	Key     string
	N       int64
	Percent string
	// Path is the SVG path of the slice; Full marks a slice that is the
	// whole disc (drawn as a circle: an arc cannot close on itself).
	Path  string
	Full  bool
	Class string
	// Link lists the licenses of this category.
	Link string
}

// pie is one chart and its table.
type pie struct {
	ID, Title string
	Total     int64
	Slices    []pieSlice
}

// newPie makes a chart of counts, biggest first (ties by key). param is the
// license list filter a category links to.
func newPie(id, title, param string, counts map[string]int64) pie {
	p := pie{ID: id, Title: title}
	keys := make([]string, 0, len(counts))
	for k, n := range counts {
		if n > 0 {
			keys = append(keys, k)
			p.Total += n
		}
	}
	slices.SortFunc(keys, func(a, b string) int {
		if c := cmp.Compare(counts[b], counts[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	start := 0.0
	for i, k := range keys {
		n := counts[k]
		frac := float64(n) / float64(p.Total)
		s := pieSlice{Key: k, N: n, Percent: fmt.Sprintf("%.1f%%", 100*frac), Class: fmt.Sprintf("s%d", i%pieColors),
			Link: Prefix + "licenses?" + url.Values{param: {k}}.Encode()}
		if n == p.Total {
			s.Full = true
		} else {
			s.Path = arc(start, start+frac)
		}
		start += frac
		p.Slices = append(p.Slices, s)
	}
	return p
}

// arc is the path of the slice between two fractions of the circle,
// clockwise from twelve o'clock.
func arc(from, to float64) string {
	x0, y0 := point(from)
	x1, y1 := point(to)
	large := 0
	if to-from > 0.5 {
		large = 1
	}
	return fmt.Sprintf("M%.2f %.2fL%.2f %.2fA%.0f %.0f 0 %d 1 %.2f %.2fZ", pieCenter, pieCenter, x0, y0, pieRadius, pieRadius, large, x1, y1)
}

func point(frac float64) (x, y float64) {
	a := 2*math.Pi*frac - math.Pi/2
	return pieCenter + pieRadius*math.Cos(a), pieCenter + pieRadius*math.Sin(a)
}
