package api

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/ledgertest"
	"github.com/tollgate-iot/tollgate/server/internal/store/storetest"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// consumptionCSVHeader is the documented header row (docs/reports.md): a
// change to it breaks every spreadsheet built on the report, so it is
// spelled out here rather than read from wire.
const consumptionCSVHeader = "row,customer_id,device_id,licenses,enforcement,samples_per_hour,budget_24h,samples,peak_hour,peak_count," +
	"days_over_budget,overage,refused,refused_blacklisted,refused_no_license,refused_revoked,refused_suspended,refused_expired," +
	"refused_not_yet_valid,refused_wrong_device,refused_model_mismatch,refused_clock_tamper,refused_no_days,refused_over_budget," +
	"refused_stale_revocation_list,refused_queue_full,refused_unknown_device,refused_invalid_sample,refused_storage_error," +
	"refused_superseded,refused_unknown,observed,observed_hours,days_charged,days_failed,blacklisted," +
	"retained_from,retention_limited,devices"

// reportWorld is world() with two days of counts of dev-1 (bound to a
// 1,000/h enforce license of acme) in May 2026, and a device of beta.
func (e *apiEnv) reportWorld() wire.License {
	e.t.Helper()
	lic := e.world()
	e.must(201, "POST", "/v1/devices", e.key["beta"], wire.CreateDeviceRequest{ID: "beta-1", CustomerID: "beta", Model: "sensor-a", PublicKey: newPublicKey(e.t)}, nil)
	may := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC).Unix()
	e.clk.Set(time.Date(2026, 6, 1, 1, 0, 0, 0, time.UTC))
	counts := []syncproto.HourlyCount{
		{DeviceID: "dev-1", Hour: may + 8*3600, Accepted: 3000},
		{DeviceID: "dev-1", Hour: may + 9*3600, Accepted: 1200, Refused: 4, RefusedBy: map[string]int64{wire.ReasonNoDays: 3}},
		{DeviceID: "dev-1", Hour: may + 86400 + 10*3600, Accepted: 500},
	}
	r := &syncproto.Report{DeviceID: "dev-1", Nonce: "AAAAAAAAAAAAAAAAAAAAAA", SentAt: e.clk.Now().Unix(),
		Tokens: []syncproto.TokenVersion{}, Deductions: []syncproto.Deduction{}, Counts: counts}
	if _, err := e.lg.Reconcile(context.Background(), "dev-1", r); err != nil {
		e.t.Fatal(err)
	}
	return lic
}

func (e *apiEnv) get(path, key, accept string) (*http.Response, []byte) {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp, b.Bytes()
}

// TestConsumptionReportJSON: the distributor's report groups its subtree
// by customer, with each device's figures and the totals; it decodes
// strictly into the wire type.
func TestConsumptionReportJSON(t *testing.T) {
	e := newAPIEnv(t)
	lic := e.reportWorld()
	resp, raw := e.get("/v1/reports/consumption?customer=dist&month=2026-05", e.key["dist"], "")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), raw)
	}
	var r wire.ConsumptionReport
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	if r.CustomerID != "dist" || r.Month != "2026-05" || len(r.Customers) != 2 || r.Customers[0].CustomerID != "acme" || r.Customers[1].CustomerID != "beta" {
		t.Fatalf("report %s", raw)
	}
	d := r.Customers[0].Devices[0]
	peak := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	if d.DeviceID != "dev-1" || d.Samples != 4700 || d.PeakHour == nil || !d.PeakHour.Equal(peak) || d.PeakCount != 3000 ||
		d.Budget24h != 24_000 || d.Observed != nil || len(d.Licenses) != 1 || d.Licenses[0].ID != lic.ID {
		t.Fatalf("dev-1 %+v", d)
	}
	// 4 refused: 3 no_days, 1 without a reason.
	if d.Refused.Total != 4 || len(d.Refused.ByReason) != 1 || d.Refused.ByReason[wire.ReasonNoDays] != 3 || d.Refused.Unknown != 1 ||
		r.Totals.Refused.Total != 4 || r.Totals.Refused.ByReason[wire.ReasonNoDays] != 3 {
		t.Fatalf("dev-1 refused %+v, totals %+v", d.Refused, r.Totals.Refused)
	}
	if b := r.Customers[1].Devices[0].Refused; b.Total != 0 || b.ByReason == nil || len(b.ByReason) != 0 {
		t.Fatalf("beta-1 refused %+v, want 0 and an empty by_reason", b)
	}
	if r.Totals.Devices != 2 || r.Totals.Samples != 4700 || r.Customers[1].Totals.Devices != 1 || r.Customers[1].Devices[0].PeakHour != nil {
		t.Fatalf("totals %+v / %+v", r.Totals, r.Customers[1])
	}
}

// TestConsumptionReportCSV: format=csv and Accept: text/csv give the same
// CSV: the documented header, a row per device, a total per customer and
// the report's total last.
func TestConsumptionReportCSV(t *testing.T) {
	e := newAPIEnv(t)
	e.reportWorld()
	_, byParam := e.get("/v1/reports/consumption?customer=dist&month=2026-05&format=csv", e.key["dist"], "")
	resp, byAccept := e.get("/v1/reports/consumption?customer=dist&month=2026-05", e.key["dist"], "text/csv, application/json;q=0.5")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/csv; charset=utf-8" || !bytes.Equal(byParam, byAccept) {
		t.Fatalf("%d %s\n%s\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), byParam, byAccept)
	}
	recs, err := csv.NewReader(bytes.NewReader(byParam)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(recs[0], ",") != consumptionCSVHeader || strings.Join(wire.ConsumptionCSVHeader, ",") != consumptionCSVHeader {
		t.Fatalf("header %v", recs[0])
	}
	var kinds []string
	for _, r := range recs[1:] {
		kinds = append(kinds, r[0]+":"+r[1]+":"+r[2])
	}
	want := "device:acme:dev-1 customer_total:acme: device:beta:beta-1 customer_total:beta: total:dist:"
	if strings.Join(kinds, " ") != want {
		t.Fatalf("rows %v, want %s", kinds, want)
	}
	col := func(rec []string, name string) string {
		i := slices.Index(recs[0], name)
		if i < 0 || len(rec) != len(recs[0]) {
			t.Fatalf("no column %s in %v", name, rec)
		}
		return rec[i]
	}
	dev := recs[1]
	for name, want := range map[string]string{"samples": "4700", "peak_hour": "2026-05-01T08:00:00Z", "peak_count": "3000",
		"refused": "4", "refused_no_days": "3", "refused_over_budget": "0", "refused_unknown": "1", "observed": "", "devices": "1"} {
		if got := col(dev, name); got != want {
			t.Fatalf("dev-1 row: %s %q, want %q (%v)", name, got, want, dev)
		}
	}
	total := recs[len(recs)-1]
	for name, want := range map[string]string{"samples": "4700", "refused": "4", "refused_no_days": "3", "refused_unknown": "1", "devices": "2"} {
		if got := col(total, name); got != want {
			t.Fatalf("total row: %s %q, want %q (%v)", name, got, want, total)
		}
	}
}

// TestConsumptionReportRefusesBadQueries: month is required and YYYY-MM;
// format is json or csv; any other parameter is refused.
func TestConsumptionReportRefusesBadQueries(t *testing.T) {
	e := newAPIEnv(t)
	e.world()
	for _, q := range []string{"", "month=2026-5", "month=May", "month=2026-05-01", "month=2026-05&format=xml", "month=2026-05&limit=3",
		"month=2026-05&customer=a/b", "month=1999-12"} {
		code, raw := e.call("GET", "/v1/reports/consumption?"+q, e.key["acme"], nil, nil)
		if code != 400 || (errCode(raw) != "invalid_parameter" && errCode(raw) != "invalid_argument") {
			t.Fatalf("?%s: %d %s", q, code, raw)
		}
	}
}

// heapSampler is a ResponseWriter that discards the answer and, every
// heapSampleEvery writes, measures the live heap.
type heapSampler struct {
	h        http.Header
	status   int
	writes   int
	bytes    int
	maxWrite int
	samples  []uint64
}

const heapSampleEvery = 2

func (s *heapSampler) Header() http.Header { return s.h }
func (s *heapSampler) WriteHeader(c int)   { s.status = c }
func (s *heapSampler) Write(p []byte) (int, error) {
	s.writes++
	s.bytes += len(p)
	s.maxWrite = max(s.maxWrite, len(p))
	if s.writes%heapSampleEvery == 0 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		s.samples = append(s.samples, m.HeapAlloc)
	}
	return len(p), nil
}

// TestConsumptionCSVStreamsWithBoundedHeap: a CSV report of 12,000
// devices (megabytes of CSV) leaves the server in writes of at most the
// report buffer, and the live heap measured while it streams does not grow
// with the rows written: the median of its second half is above that of
// its first by less than a quarter of what the report wrote (a server
// that kept what it wrote would be higher by about half of it; badger's
// block-cache admissions move the median by up to ~250 KiB either way,
// which an eighth, 180 KiB, did not always absorb on a loaded machine).
func TestConsumptionCSVStreamsWithBoundedHeap(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 12,000-device fleet")
	}
	if storetest.Engine() == "postgres" {
		t.Skip("measures the live heap to a few hundred KiB, calibrated on badger; on PostgreSQL the driver's read buffers for the pages of the scan move it by as much (the streaming code is the same on both engines)")
	}
	le, db := ledgertest.OpenFleet(t, "", ledgertest.Fleet{Customers: 3, DevicesPerCustomer: 4000,
		From: time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC), Hours: 24, Accepted: 1000})
	defer db.Close()
	h := New(Options{Ledger: le.Ledger, Clock: le.Clock, Logger: le.Logger}).Handler()
	report := func(w http.ResponseWriter) {
		req := httptest.NewRequest("GET", "/v1/reports/consumption?customer=dist&month=2026-05&format=csv", nil)
		req.Header.Set("Authorization", "Bearer "+le.RootKey)
		h.ServeHTTP(w, req)
	}
	// A first report fills badger's block cache, whose size would
	// otherwise grow with what is read while the second is measured.
	report(httptest.NewRecorder())
	w := &heapSampler{h: http.Header{}}
	report(w)
	if w.status != 200 || w.bytes < 1<<20 || w.maxWrite > reportBufferBytes {
		t.Fatalf("status %d, %d bytes in %d writes (largest %d)", w.status, w.bytes, w.writes, w.maxWrite)
	}
	n := len(w.samples)
	if n < 8 {
		t.Fatalf("%d heap samples over %d writes", n, w.writes)
	}
	// The median live heap of the report's second half against its first
	// (past the first eighth): a server that kept what it wrote would be
	// higher by about half of it; medians leave out the moments the
	// cache's pending admissions show.
	first, second := median(w.samples[n/8:n/2]), median(w.samples[n/2:])
	t.Logf("%d bytes written; median live heap %d KiB in the first half, %d KiB in the second (%d samples)", w.bytes, first>>10, second>>10, n)
	if second > first && second-first > uint64(w.bytes)/4 {
		t.Fatalf("live heap grew by %d KiB while %d KiB were written", (second-first)>>10, w.bytes>>10)
	}
}

func median(xs []uint64) uint64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// TestConsumptionReportEmpty: a customer without devices gets a report
// with no customers and zero totals, in JSON and in CSV (the header and
// the total row).
func TestConsumptionReportEmpty(t *testing.T) {
	e := newAPIEnv(t)
	e.world()
	_, raw := e.get("/v1/reports/consumption?month=2026-05", e.key["beta"], "")
	var r wire.ConsumptionReport
	if err := json.Unmarshal(raw, &r); err != nil || r.CustomerID != "beta" || r.Customers == nil || len(r.Customers) != 0 || r.Totals.Devices != 0 {
		t.Fatalf("%v: %s", err, raw)
	}
	_, raw = e.get("/v1/reports/consumption?month=2026-05&format=csv", e.key["beta"], "")
	// samples, days over, overage; refused, 17 reasons and unknown at 0;
	// observed 0, days charged and failed 0, retention_limited, devices.
	zeros := strings.Repeat(",0", 1+len(wire.RefusalReasons)+1)
	if want := consumptionCSVHeader + "\ntotal,beta,,,,,,0,,,0,0" + zeros + ",0,,0,0,,,0,0\n"; string(raw) != want {
		t.Fatalf("csv %q, want %q", raw, want)
	}
}
