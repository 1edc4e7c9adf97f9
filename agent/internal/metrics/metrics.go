// Package metrics writes the agent's Prometheus text exposition (format
// 0.0.4) by hand: the agent needs a dozen series, not a client library.
package metrics

import (
	"bufio"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// Writer accumulates one scrape.
type Writer struct {
	w    *bufio.Writer
	seen map[string]bool
}

// Handler serves a scrape built by fill on every request.
func Handler(fill func(*Writer)) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) {
		rw.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		w := &Writer{w: bufio.NewWriter(rw), seen: map[string]bool{}}
		fill(w)
		w.w.Flush()
	})
}

// Counter writes one sample of a counter; labels are name/value pairs.
func (w *Writer) Counter(name, help string, v int64, labels ...string) {
	w.sample(name, "counter", help, v, labels)
}

// Gauge writes one sample of a gauge.
func (w *Writer) Gauge(name, help string, v int64, labels ...string) {
	w.sample(name, "gauge", help, v, labels)
}

func (w *Writer) sample(name, typ, help string, v int64, labels []string) {
	if !w.seen[name] {
		w.seen[name] = true
		w.w.WriteString("# HELP " + name + " " + help + "\n# TYPE " + name + " " + typ + "\n")
	}
	w.w.WriteString(name)
	if len(labels) > 0 {
		w.w.WriteByte('{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				w.w.WriteByte(',')
			}
			w.w.WriteString(labels[i] + `="` + escape(labels[i+1]) + `"`)
		}
		w.w.WriteByte('}')
	}
	w.w.WriteString(" " + strconv.FormatInt(v, 10) + "\n")
}

var escaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func escape(s string) string { return escaper.Replace(s) }

// SortedKeys returns m's keys in order, for stable output.
func SortedKeys(m map[string]int64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
