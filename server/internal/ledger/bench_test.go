package ledger

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/keys"
	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/clock"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// The benchmarks run on the server profile with synced writes, as served,
// and report ops/s and the 99th percentile latency of one operation.

// latencies times each operation with the real clock (through package
// clock, like everything else).
type latencies struct {
	start time.Time
	d     []time.Duration
}

func (l *latencies) begin() { l.start = clock.Real{}.Now() }
func (l *latencies) end()   { l.d = append(l.d, clock.Real{}.Now().Sub(l.start)) }

func (l *latencies) report(b *testing.B) {
	if len(l.d) == 0 {
		return
	}
	var total time.Duration
	for _, d := range l.d {
		total += d
	}
	slices.Sort(l.d)
	p99 := l.d[min(len(l.d)-1, len(l.d)*99/100)]
	b.ReportMetric(float64(len(l.d))/total.Seconds(), "ops/s")
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
}

// benchLedger opens a ledger on the server profile in dir, with the cached
// signer the server uses.
func benchLedger(b *testing.B, dir string) (*Ledger, *store.DB) {
	b.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := store.Open(store.Options{Dir: dir + "/ledger", Profile: store.ProfileServer, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	ks, _ := keys.Open(dir, nil)
	if _, err := ks.Rotate(); err != nil {
		b.Fatal(err)
	}
	lg, err := New(Options{DB: db, Keys: keys.NewCache(ks, nil, time.Hour), Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	if _, _, _, err := lg.Bootstrap(ctx, "Vendor", "ops@vendor.test"); err != nil {
		b.Fatal(err)
	}
	if _, err := lg.CreateCustomer(ctx, SystemActor(), CustomerInput{ID: "acme", Name: "Acme", ParentID: "root"}); err != nil {
		b.Fatal(err)
	}
	return lg, db
}

func benchDevice(b *testing.B, lg *Ledger, id string) {
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	if _, err := lg.CreateDevice(ctx, SystemActor(), DeviceInput{ID: id, CustomerID: "acme", Model: "sensor-a", PublicKey: token.EncodePublicKey(pub)}); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkLicenseCreate(b *testing.B) {
	lg, db := benchLedger(b, b.TempDir())
	defer db.Close()
	in := std("acme")
	var lat latencies
	b.ResetTimer()
	for range b.N {
		lat.begin()
		if _, err := lg.CreateLicenses(ctx, SystemActor(), in); err != nil {
			b.Fatal(err)
		}
		lat.end()
	}
	b.StopTimer()
	lat.report(b)
}

// BenchmarkBind binds a license to a device and signs its token; every
// pool of binds is followed by untimed unbinds.
func BenchmarkBind(b *testing.B) {
	lg, db := benchLedger(b, b.TempDir())
	defer db.Close()
	const pool = 200
	in := std("acme")
	in.Count = pool
	ls, err := lg.CreateLicenses(ctx, SystemActor(), in)
	if err != nil {
		b.Fatal(err)
	}
	for i := range pool {
		benchDevice(b, lg, fmt.Sprintf("dev-%d", i))
	}
	var lat latencies
	b.ResetTimer()
	for i := range b.N {
		k := i % pool
		if k == 0 && i > 0 {
			b.StopTimer()
			for j := range pool {
				if _, err := lg.Unbind(ctx, SystemActor(), ls[j].ID); err != nil {
					b.Fatal(err)
				}
			}
			b.StartTimer()
		}
		lat.begin()
		if _, err := lg.Bind(ctx, SystemActor(), ls[k].ID, BindInput{DeviceID: fmt.Sprintf("dev-%d", k)}); err != nil {
			b.Fatal(err)
		}
		lat.end()
	}
	b.StopTimer()
	lat.report(b)
}

// listFixture is 100,000 licenses of ten customers, 1 % of them bound
// (active) and 1 % suspended, built once per test binary.
var listFixture struct {
	once sync.Once
	lg   *Ledger
	dir  string
	err  error
}

const fixtureLicenses = 100_000

func buildListFixture(b *testing.B) *Ledger {
	listFixture.once.Do(func() {
		dir, err := os.MkdirTemp("", "tollgate-bench-")
		if err != nil {
			listFixture.err = err
			return
		}
		listFixture.dir = dir
		lg, _ := benchLedger(b, dir)
		sys := SystemActor()
		for c := range 10 {
			id := fmt.Sprintf("c%d", c)
			if _, err := lg.CreateCustomer(ctx, sys, CustomerInput{ID: id, Name: id, ParentID: "acme"}); err != nil {
				listFixture.err = err
				return
			}
			in := std(id)
			in.Count = MaxBatch
			for range fixtureLicenses / 10 / MaxBatch {
				ls, err := lg.CreateLicenses(ctx, sys, in)
				if err != nil {
					listFixture.err = err
					return
				}
				listFixture.err = markFixture(b, lg, id, ls)
			}
		}
		listFixture.lg = lg
	})
	if listFixture.err != nil {
		b.Fatal(listFixture.err)
	}
	return listFixture.lg
}

// markFixture binds one license in a hundred and suspends another.
func markFixture(b *testing.B, lg *Ledger, customer string, ls []LicenseView) error {
	for i := 0; i < len(ls); i += 100 {
		dev := fmt.Sprintf("%s-%s", customer, ls[i].Serial)
		pub, _, _ := ed25519.GenerateKey(rand.Reader)
		if _, err := lg.CreateDevice(ctx, SystemActor(), DeviceInput{ID: dev, CustomerID: customer, Model: "sensor-a", PublicKey: token.EncodePublicKey(pub)}); err != nil {
			return err
		}
		if _, err := lg.Bind(ctx, SystemActor(), ls[i].ID, BindInput{DeviceID: dev}); err != nil {
			return err
		}
		if _, err := lg.Suspend(ctx, SystemActor(), ls[i+1].ID); err != nil {
			return err
		}
	}
	return nil
}

func TestMain(m *testing.M) {
	code := m.Run()
	if listFixture.dir != "" {
		os.RemoveAll(listFixture.dir)
	}
	os.Exit(code)
}

// BenchmarkListFiltered100k lists one page (100) of a filtered listing
// over 100,000 licenses, as the vendor (whose subtree holds them all).
func BenchmarkListFiltered100k(b *testing.B) {
	lg := buildListFixture(b)
	root := Actor{UserID: "bench", CustomerID: "root", Role: RoleViewer}
	cases := []struct {
		name string
		f    LicenseFilter
	}{
		{"status=unused", LicenseFilter{Status: StatusUnused}},
		{"customer+status=active", LicenseFilter{CustomerID: "c3", Status: StatusActive}},
		{"status=suspended+type", LicenseFilter{Status: StatusSuspended, Type: token.TypeStandard}},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			var lat latencies
			for range b.N {
				lat.begin()
				ls, _, err := lg.ListLicenses(ctx, root, tc.f)
				lat.end()
				if err != nil || len(ls) != DefaultPageSize {
					b.Fatalf("%d licenses, %v", len(ls), err)
				}
			}
			lat.report(b)
		})
	}
}

// BenchmarkDeviceStanding is the ledger's part of one MQTT CONNECT: a
// gateway with 100 children asks whether it may send under its license
// (after a broker restart every device asks at once).
func BenchmarkDeviceStanding(b *testing.B) {
	lg, db := benchLedger(b, b.TempDir())
	defer db.Close()
	benchDevice(b, lg, "gw-1")
	for i := range 100 {
		pub, _, _ := ed25519.GenerateKey(rand.Reader)
		if _, err := lg.CreateDevice(ctx, SystemActor(), DeviceInput{ID: fmt.Sprintf("c-%d", i), CustomerID: "acme", Model: "sensor-c",
			PublicKey: token.EncodePublicKey(pub), GatewayID: "gw-1"}); err != nil {
			b.Fatal(err)
		}
	}
	ls, err := lg.CreateLicenses(ctx, SystemActor(), std("acme"))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := lg.Bind(ctx, SystemActor(), ls[0].ID, BindInput{DeviceID: "gw-1"}); err != nil {
		b.Fatal(err)
	}
	var lat latencies
	b.ResetTimer()
	for range b.N {
		lat.begin()
		st, err := lg.DeviceStanding(ctx, "gw-1", ls[0].ID)
		if err != nil || len(st.Children) != 100 {
			b.Fatalf("standing %d children, %v", len(st.Children), err)
		}
		lat.end()
	}
	b.StopTimer()
	lat.report(b)
}
