package metrics

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tollgate-iot/tollgate/shared/clock"
)

// OtherCustomers is the customer label of the licenses of the customers
// past MaxLicenseGaugeCustomers. Parentheses are not allowed in ids
// (shared/ident), so it never names a real customer.
const OtherCustomers = "(other)"

// LicenseCounter counts licenses per customer and status
// (ledger.Ledger.LicenseCounts, with the status as a string).
type LicenseCounter func(ctx context.Context) (map[string]map[string]int64, error)

// LicenseCollector exports tollgate_licenses{customer,status}: the number
// of licenses each customer owns in each status. It counts at scrape time,
// at most once per LicenseGaugeRefresh, and serves the cached counts in
// between; at most MaxLicenseGaugeCustomers customers (the largest) get
// their own series, the rest are summed under OtherCustomers.
type LicenseCollector struct {
	count LicenseCounter
	clock clock.Clock
	log   *slog.Logger
	desc  *prometheus.Desc

	mu     sync.Mutex
	at     time.Time // when cached was counted; zero: never
	cached []licenseSample
}

type licenseSample struct {
	customer, status string
	n                int64
}

// NewLicenseCollector returns a collector that counts through count.
func NewLicenseCollector(count LicenseCounter, clk clock.Clock, log *slog.Logger) *LicenseCollector {
	if log == nil {
		log = slog.Default()
	}
	return &LicenseCollector{count: count, clock: clock.OrReal(clk), log: log,
		desc: prometheus.NewDesc("tollgate_licenses",
			fmt.Sprintf("Licenses by owning customer and status, counted at most every %s. Customers past the largest %d are summed under customer=%q.",
				LicenseGaugeRefresh, MaxLicenseGaugeCustomers, OtherCustomers),
			[]string{"customer", "status"}, nil)}
}

// Describe implements prometheus.Collector.
func (c *LicenseCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector. When counting fails the last
// counts are served (none before the first success) and the failure is
// logged.
func (c *LicenseCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.samples() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(s.n), s.customer, s.status)
	}
}

func (c *LicenseCollector) samples() []licenseSample {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.clock.Now()
	if !c.at.IsZero() && now.Sub(c.at) < LicenseGaugeRefresh {
		return c.cached
	}
	counts, err := c.count(context.Background())
	if err != nil {
		c.log.Warn("metrics: count licenses", "error", err)
		return c.cached
	}
	c.at, c.cached = now, capCustomers(counts, MaxLicenseGaugeCustomers)
	return c.cached
}

// capCustomers flattens counts, keeping the max customers with the most
// licenses (ties by id) and summing the rest under OtherCustomers.
func capCustomers(counts map[string]map[string]int64, max int) []licenseSample {
	type total struct {
		id string
		n  int64
	}
	totals := make([]total, 0, len(counts))
	for id, byStatus := range counts {
		var n int64
		for _, k := range byStatus {
			n += k
		}
		totals = append(totals, total{id, n})
	}
	sort.Slice(totals, func(i, j int) bool {
		if totals[i].n != totals[j].n {
			return totals[i].n > totals[j].n
		}
		return totals[i].id < totals[j].id
	})
	var out []licenseSample
	other := map[string]int64{}
	for i, t := range totals {
		for status, n := range counts[t.id] {
			if i < max {
				out = append(out, licenseSample{t.id, status, n})
			} else {
				other[status] += n
			}
		}
	}
	for status, n := range other {
		out = append(out, licenseSample{OtherCustomers, status, n})
	}
	return out
}
