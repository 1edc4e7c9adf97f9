package metrics

import "time"

// LatencyBuckets are the upper bounds, in seconds, of every latency
// histogram the server exports (admin API, device sync, MQTT CONNECT):
// 1 ms to 10 s, about ×2.5 apart, so that a p99 near the 1 s targets of
// docs/server.md falls between two buckets rather than past the last.
// (A slice cannot be a constant; nothing writes to it.)
var LatencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// LicenseGaugeRefresh is how long the per-customer license counts
// (tollgate_licenses) are served from cache before a scrape counts again.
// Counting reads every license's index entry (a scan of 100k entries takes
// tens of milliseconds of a core), so it runs at most once a minute
// however often Prometheus scrapes.
const LicenseGaugeRefresh = time.Minute

// MaxLicenseGaugeCustomers caps the customers that get their own
// tollgate_licenses series; the licenses of the others (the smallest by
// license count) are summed under customer="" so that a vendor with many
// thousand customers does not give Prometheus many thousand series per
// status.
const MaxLicenseGaugeCustomers = 200
