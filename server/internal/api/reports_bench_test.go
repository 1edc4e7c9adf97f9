package api

import (
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/ledgertest"
	"github.com/tollgate-iot/tollgate/server/internal/store"
)

// The fleet of BenchmarkConsumptionReport: a distributor with 10,000
// devices (10 customers of 1,000), each with an hourly count in every hour
// of a 31-day month.
const (
	benchReportCustomers = 10
	benchReportDevices   = 1_000 // per customer
)

// peakWriter discards the answer and notes the peak heap at its writes:
// the heap in use, garbage included, or (live) the live heap, collecting
// first — far slower, so only in an untimed pass.
type peakWriter struct {
	h      http.Header
	status int
	bytes  int
	live   bool
	peak   uint64
}

func (w *peakWriter) Header() http.Header { return w.h }
func (w *peakWriter) WriteHeader(c int)   { w.status = c }
func (w *peakWriter) Write(p []byte) (int, error) {
	w.bytes += len(p)
	w.peak = max(w.peak, heapNow(w.live))
	return len(p), nil
}

func heapNow(live bool) uint64 {
	if live {
		runtime.GC()
		runtime.GC() // a second cycle frees what waited on finalizers
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkConsumptionReport times the monthly consumption report of a
// distributor with 10,000 devices × 31 days × 24 hourly counts (7.4
// million counts), streamed as CSV or JSON through the real router from a
// store of the server profile. It reports the peak heap while a report
// streams, garbage not yet collected included (peak-heap-MiB), and, from
// an untimed pass that collects at every write, the peak live heap and its
// growth over the live heap before the report (live-heap-MiB,
// live-growth-MiB) — what the report itself holds. The fleet is written
// once, straight into the bottom of the store's tree
// (ledgertest.OpenFleet): seeding 7.4 million counts through syncs would
// take far longer than the report.
func BenchmarkConsumptionReport(b *testing.B) {
	le, db := ledgertest.OpenFleet(b, b.TempDir(), ledgertest.Fleet{Customers: benchReportCustomers, DevicesPerCustomer: benchReportDevices,
		From: time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC), Hours: 31 * 24, Accepted: 1000, Profile: store.ProfileServer})
	defer db.Close()
	h := New(Options{Ledger: le.Ledger, Clock: le.Clock, Logger: le.Logger}).Handler()
	report := func(format string, live bool) *peakWriter {
		req := httptest.NewRequest("GET", "/v1/reports/consumption?customer=dist&month=2026-05&format="+format, nil)
		req.Header.Set("Authorization", "Bearer "+le.RootKey)
		w := &peakWriter{h: http.Header{}, live: live}
		h.ServeHTTP(w, req)
		if w.status != http.StatusOK || w.bytes < benchReportCustomers*benchReportDevices*50 {
			b.Fatalf("status %d, %d bytes", w.status, w.bytes)
		}
		return w
	}
	report("csv", false) // warms badger's caches
	for _, format := range []string{"csv", "json"} {
		b.Run("10k-devices-31d/"+format, func(b *testing.B) {
			var peak uint64
			for range b.N {
				peak = max(peak, report(format, false).peak)
			}
			b.StopTimer()
			before := heapNow(true)
			live := report(format, true).peak
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
			b.ReportMetric(float64(live)/(1<<20), "live-heap-MiB")
			b.ReportMetric((float64(live)-float64(before))/(1<<20), "live-growth-MiB")
		})
	}
}
