package console

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/server/internal/ledgertest"
	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/clock"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// The console's benchmarks: the time to the first byte of the license list
// over 100,000 licenses and of the dashboard of a distributor with 10,000
// devices (10 customers of 1,000), signed in as the distributor's admin.
const (
	benchCustomers = 10
	benchDevices   = 1_000 // per customer
	benchLicenses  = 100_000
)

// firstByteWriter notes when the first byte of the answer is written.
type firstByteWriter struct {
	h      http.Header
	status int
	first  time.Time
	bytes  int
}

func (w *firstByteWriter) Header() http.Header { return w.h }
func (w *firstByteWriter) WriteHeader(c int)   { w.status = c }
func (w *firstByteWriter) Write(p []byte) (int, error) {
	if w.bytes == 0 {
		w.first = clock.Real{}.Now()
	}
	w.bytes += len(p)
	return len(p), nil
}

// benchConsole builds the fleet and the licenses, signs the distributor's
// admin in and returns the console handler and its session cookie.
func benchConsole(b *testing.B) (http.Handler, *http.Cookie) {
	b.Helper()
	le, db := ledgertest.OpenFleet(b, "", ledgertest.Fleet{Customers: benchCustomers, DevicesPerCustomer: benchDevices,
		From: ledgertest.Start.Add(-2 * time.Hour), Hours: 1, Accepted: 10, Profile: store.ProfileServer})
	b.Cleanup(func() { db.Close() })
	ctx := context.Background()
	lg := le.Ledger
	root, err := lg.Authenticate(ctx, le.RootKey)
	if err != nil {
		b.Fatal(err)
	}
	for i := range benchLicenses / ledger.MaxBatch { // spread over the distributor's customers
		in := ledger.LicenseInput{CustomerID: fmt.Sprintf("c%04d", i%benchCustomers), Type: token.TypeStandard,
			Billing: token.BillingTerm, Models: []string{"*"}, MaxSamplesPerHour: 100, Count: ledger.MaxBatch}
		if _, err := lg.CreateLicenses(ctx, ledger.SystemActor(), in); err != nil {
			b.Fatal(err)
		}
	}
	u, _, err := lg.CreateUser(ctx, root, "dist", "admin@dist.test", ledger.RoleAdmin)
	if err != nil {
		b.Fatal(err)
	}
	inv, err := lg.Invite(ctx, root, u.ID)
	if err != nil {
		b.Fatal(err)
	}
	if err := lg.AcceptInvitation(ctx, strings.TrimPrefix(inv.Path, ledger.InvitationPath), testPassword); err != nil {
		b.Fatal(err)
	}
	sid, _, err := lg.SignIn(ctx, "admin@dist.test", testPassword)
	if err != nil {
		b.Fatal(err)
	}
	web, err := New(Options{Ledger: lg, Clock: le.Clock, Logger: le.Logger})
	if err != nil {
		b.Fatal(err)
	}
	return web.Mount(http.NotFoundHandler()), &http.Cookie{Name: sessionCookie, Value: sid}
}

func BenchmarkConsolePages(b *testing.B) {
	h, ck := benchConsole(b)
	for _, tc := range []struct{ name, path string }{
		{"licenses100k", "/console/licenses?status=unused"},
		{"licenses100k-serial-prefix", "/console/licenses?serial_prefix=TG-Z"},
		{"dashboard10kDevices", "/console/"},
		// The first and the last of a customer's 1,000 devices cost the
		// same: the licensed rate is the device's own consumption row
		// (ledger.DeviceConsumption), not a walk of its customer's report.
		{"device-first-of-1000", "/console/devices/c0009-d000000"},
		{"device-last-of-1000", "/console/devices/c0009-d000999"},
		{"device-last-of-1000-7d", "/console/devices/c0009-d000999?range=7d"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var ttfb time.Duration
			for b.Loop() {
				r := httptest.NewRequest(http.MethodGet, tc.path, nil)
				r.AddCookie(ck)
				w := &firstByteWriter{h: http.Header{}}
				start := clock.Real{}.Now()
				h.ServeHTTP(w, r)
				if w.status != http.StatusOK || w.bytes == 0 {
					b.Fatalf("GET %s: %d, %d bytes", tc.path, w.status, w.bytes)
				}
				ttfb += w.first.Sub(start)
			}
			b.ReportMetric(float64(ttfb.Microseconds())/float64(b.N)/1000, "ms-ttfb/op")
		})
	}
}

// BenchmarkResolveSession is what every signed-in page pays before its own
// work: the session cookie to an actor (a read; the session's last use is
// written at most once a minute).
func BenchmarkResolveSession(b *testing.B) {
	w := newWorld(b)
	sid, _, err := w.lg.SignIn(context.Background(), w.email["acme"], testPassword)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := w.lg.ResolveSession(context.Background(), sid); err != nil {
			b.Fatal(err)
		}
	}
}
