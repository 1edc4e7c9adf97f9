package api

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/keys"
	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/server/internal/ledgertest"
	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/clock"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// benchDevices is how many registered devices BenchmarkSync spreads its
// syncs over (issue #5: at least 10,000 devices against one server).
const benchDevices = 10_000

// benchInFlight is how many syncs BenchmarkSync keeps in flight: devices
// syncing at the same moment.
const benchInFlight = 64

// benchVerifies is how many raw signature checks BenchmarkSync times on
// one core before and after its syncs, for the ratio measured in the run.
const benchVerifies = 2000

// benchServer is a production-shaped server for BenchmarkSync: the server
// store profile with synced writes, the cached key source serve uses, the
// real router; benchDevices devices of acme, each with a bound day license.
type benchServer struct {
	h    http.Handler
	clk  *clock.Fake
	ids  []string
	lics []string
	dev  []*token.Signer
	// seq is the revocation head after the load: the list a device that
	// synced before holds.
	seq int64
}

// newBenchServer loads the fleet into an unsynced store (a bulk load, not
// what is measured), then reopens it synced, as serve runs it.
func newBenchServer(b *testing.B) *benchServer {
	ctx := context.Background()
	dir, log := b.TempDir(), slog.New(slog.NewTextHandler(io.Discard, nil))
	clk := clock.NewFake(ledgertest.Start)
	ks, err := keys.Open(b.TempDir(), clk)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := ks.Rotate(); err != nil {
		b.Fatal(err)
	}
	kc := keys.NewCache(ks, clk, time.Hour)
	open := func(unsynced bool) (*store.DB, *ledger.Ledger) {
		db, err := store.Open(store.Options{Dir: dir, Profile: store.ProfileServer, Clock: clk, Logger: log, Unsynced: unsynced})
		if err != nil {
			b.Fatal(err)
		}
		lg, err := ledger.New(ledger.Options{DB: db, Clock: clk, Keys: kc, Logger: log})
		if err != nil {
			b.Fatal(err)
		}
		return db, lg
	}
	db, lg := open(true)
	root, _, _, err := lg.Bootstrap(ctx, "Vendor", "ops@vendor.test")
	if err != nil {
		b.Fatal(err)
	}
	sys := ledger.SystemActor()
	if _, err := lg.CreateCustomer(ctx, sys, ledger.CustomerInput{ID: "acme", Name: "acme", ParentID: root.ID}); err != nil {
		b.Fatal(err)
	}
	s := &benchServer{clk: clk}
	for len(s.lics) < benchDevices {
		ls, err := lg.CreateLicenses(ctx, sys, ledger.LicenseInput{CustomerID: "acme", Type: "standard", Billing: "days",
			Days: 100_000, Models: []string{"*"}, Count: min(ledger.MaxBatch, 500)})
		if err != nil {
			b.Fatal(err)
		}
		for _, l := range ls {
			s.lics = append(s.lics, l.ID)
		}
	}
	s.lics = s.lics[:benchDevices]
	for i := range benchDevices {
		id := fmt.Sprintf("bench-%05d", i)
		signer := deviceSigner(b, id)
		if _, err := lg.CreateDevice(ctx, sys, ledger.DeviceInput{ID: id, CustomerID: "acme", Model: "sensor-a",
			PublicKey: token.EncodePublicKey(signer.PublicKey())}); err != nil {
			b.Fatal(err)
		}
		if _, err := lg.Bind(ctx, sys, s.lics[i], ledger.BindInput{DeviceID: id}); err != nil {
			b.Fatal(err)
		}
		s.ids, s.dev = append(s.ids, id), append(s.dev, signer)
	}
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	db, lg = open(false)
	b.Cleanup(func() { db.Close() })
	if h, err := lg.RevocationHead(ctx); err == nil {
		s.seq = h.Seq
	}
	s.h = New(Options{Ledger: lg, Clock: clk, Logger: log}).Handler()
	return s
}

// requests signs n sync requests, round robin over the fleet: each carries
// the device's next deduction and a new day of 24 hourly counts, and says
// it holds the revocation list at heldSeq (0: none).
func (s *benchServer) requests(b *testing.B, n int, heldSeq int64) []string {
	now := s.clk.Now()
	out := make([]string, n)
	for i := range out {
		dev, seq := i%len(s.ids), int64(i/len(s.ids)+1)
		r := &syncproto.Report{DeviceID: s.ids[dev], Nonce: nonce(b), SentAt: now.Unix(), Tokens: []syncproto.TokenVersion{}, RevocationSeq: heldSeq,
			Deductions: []syncproto.Deduction{deduction(seq, s.lics[dev], now.Add(time.Duration(seq)*time.Minute), 100_000-seq+1)},
			Counts:     hourly(s.ids[dev], now.Add(-time.Duration(seq-1)*24*time.Hour), 24)}
		out[i] = sign(b, s.dev[dev], r)
	}
	return out
}

// BenchmarkSync is benchDevices devices syncing at once, benchInFlight at
// a time, through the real router and ledger (server store profile,
// synced commits): each sync verifies the device signature, charges one
// day, keeps 24 hourly counts and signs the answer. The fleet is in its
// steady state: every device synced before and holds the current
// revocation list, so no answer carries one (BenchmarkSyncNewList is the
// other case). It reports syncs/s, the p99 latency, and verify-ratio:
// syncs/s ÷ raw ed25519 verifies/s on one core, the verifies timed in the
// same run just before and after.
func BenchmarkSync(b *testing.B) {
	s := newBenchServer(b)
	benchSyncs(b, s, s.requests(b, b.N, s.seq))
}

// BenchmarkSyncNewList is BenchmarkSync with devices that hold no list —
// a fleet's first contact, or every device's next sync after a change to
// any revocation entry advanced the head: each answer carries the device's
// own list, built and signed for it once per head.
func BenchmarkSyncNewList(b *testing.B) {
	s := newBenchServer(b)
	benchSyncs(b, s, s.requests(b, b.N, 0))
}

// benchSyncs sends reqs through the server's router, benchInFlight at a
// time, and reports the figures BenchmarkSync describes.
func benchSyncs(b *testing.B, s *benchServer, reqs []string) {
	var next atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	real := clock.Real{}
	before := verifyRate(b)
	b.SetParallelism(max(1, benchInFlight/runtime.GOMAXPROCS(0)))
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
			s.h.ServeHTTP(rec, req)
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
	verifies := (before + verifyRate(b)) / 2
	slices.Sort(lat)
	if len(lat) > 0 {
		rate := float64(len(lat)) / elapsed.Seconds()
		b.ReportMetric(rate, "syncs/s")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		b.ReportMetric(rate/verifies, "verify-ratio")
	}
}

// verifyRate is raw ed25519 verifies per second on one core, for a message
// the size of a BenchmarkSync request.
func verifyRate(b *testing.B) float64 {
	priv := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	pub := priv.Public().(ed25519.PublicKey)
	msg := []byte(strings.Repeat("x", 3500))
	sig := ed25519.Sign(priv, msg)
	real := clock.Real{}
	t0 := real.Now()
	for range benchVerifies {
		if !ed25519.Verify(pub, msg, sig) {
			b.Fatal("does not verify")
		}
	}
	return benchVerifies / real.Now().Sub(t0).Seconds()
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
