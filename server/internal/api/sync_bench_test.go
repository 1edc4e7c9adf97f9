package api

import (
	"crypto/ed25519"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/shared/clock"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// benchDevices is how many registered devices BenchmarkSync spreads its
// syncs over.
const benchDevices = 1000

// benchInFlight is about how many syncs BenchmarkSync keeps in flight.
const benchInFlight = 16

// benchFleet registers benchDevices devices of acme, each with a bound day
// license, and returns their ids and licenses.
func benchFleet(b *testing.B, e *syncEnv) (ids, lics []string) {
	var ls wire.LicenseList
	for len(ls.Licenses) < benchDevices { // in batches: the small badger profile caps a transaction
		var batch wire.LicenseList
		e.must(201, "POST", "/v1/licenses", e.key["root"], wire.CreateLicenseRequest{CustomerID: "acme", Type: "standard",
			Billing: "days", Days: 100_000, Models: []string{"*"}, Count: 100}, &batch)
		ls.Licenses = append(ls.Licenses, batch.Licenses...)
	}
	for i := range benchDevices {
		id := fmt.Sprintf("bench-%04d", i)
		e.addDevice("acme", id, "")
		e.must(200, "POST", "/v1/licenses/"+ls.Licenses[i].ID+"/bind", e.key["acme"], wire.BindRequest{DeviceID: id}, nil)
		ids, lics = append(ids, id), append(lics, ls.Licenses[i].ID)
	}
	return ids, lics
}

// benchRequests signs n sync requests, round robin over the fleet: each
// carries the device's next deduction and a new day of 24 hourly counts.
func benchRequests(b *testing.B, e *syncEnv, ids, lics []string, n int) []string {
	now := e.clk.Now()
	out := make([]string, n)
	for i := range out {
		dev, seq := i%len(ids), int64(i/len(ids)+1)
		r := e.report(ids[dev])
		r.Deductions = []syncproto.Deduction{deduction(seq, lics[dev], now.Add(time.Duration(seq)*time.Minute), 100_000-seq+1)}
		r.Counts = hourly(ids[dev], now.Add(-time.Duration(seq-1)*24*time.Hour), 24)
		out[i] = sign(b, e.dev[ids[dev]], r)
	}
	return out
}

// BenchmarkSync is many devices syncing at once through the real router
// and ledger (synced badger writes): each sync verifies the device
// signature, charges one day, keeps 24 hourly counts and signs the answer.
// Compare with BenchmarkEd25519Verify in the same run.
func BenchmarkSync(b *testing.B) {
	e := newSyncEnv(b, 30)
	ids, lics := benchFleet(b, e)
	reqs := benchRequests(b, e, ids, lics, b.N)
	h := e.srv.Config.Handler
	var next atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	real := clock.Real{}
	b.SetParallelism(benchInFlight / runtime.GOMAXPROCS(0))
	b.ReportAllocs()
	b.ResetTimer()
	start := real.Now()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			body := reqs[next.Add(1)-1]
			req := httptest.NewRequest("POST", "/v1/device/sync", strings.NewReader(body))
			req.Header.Set("Content-Type", "text/plain")
			rec := httptest.NewRecorder()
			t0 := real.Now()
			h.ServeHTTP(rec, req)
			mine = append(mine, real.Now().Sub(t0))
			if rec.Code != http.StatusOK {
				b.Errorf("sync: %d %s", rec.Code, rec.Body)
				return
			}
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	elapsed := real.Now().Sub(start)
	b.StopTimer()
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "syncs/s")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	}
}

// BenchmarkEd25519Verify is the raw signature check of a message the size
// of a BenchmarkSync request: the floor of what verifying a sync costs.
func BenchmarkEd25519Verify(b *testing.B) {
	priv := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	pub := priv.Public().(ed25519.PublicKey)
	msg := []byte(strings.Repeat("x", 3500))
	sig := ed25519.Sign(priv, msg)
	for b.Loop() {
		if !ed25519.Verify(pub, msg, sig) {
			b.Fatal("does not verify")
		}
	}
}
