package ledgertest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/keys"
	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/clock"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
)

// Fleet is a large fleet for the tests and benchmarks of reports: a
// distributor "dist" under the root with Customers customers (c0000,
// c0001, …), each with DevicesPerCustomer devices (c0000-d000000, …) that
// reported Accepted samples in each of Hours hours from From. The devices
// and their hourly counts are loaded straight into the bottom of the
// store's tree (store.BulkLoad), as syncs would have left them — going
// through syncs would take far longer than what is measured, and leave
// compactions running while it is; the customers are then created through
// the ledger.
type Fleet struct {
	Customers          int
	DevicesPerCustomer int
	From               time.Time
	Hours              int
	Accepted           int64
	// Profile is the store profile (default: the small one).
	Profile store.Profile
}

// OpenFleet opens a bootstrapped ledger in dir (t.TempDir() when empty)
// holding f. The caller closes the returned DB.
func OpenFleet(t testing.TB, dir string, f Fleet) (*Env, *store.DB) {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	if f.Profile == "" {
		f.Profile = store.ProfileSmall
	}
	e := &Env{Clock: clock.NewFake(Start), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	db, err := store.Open(store.Options{Dir: dir + "/ledger", Profile: f.Profile, Clock: e.Clock, Logger: e.Logger})
	if err != nil {
		t.Fatal(err)
	}
	fail := func(err error) {
		db.Close()
		t.Fatal(err)
	}
	if err := db.BulkLoad(newFleetKeys(f).next); err != nil {
		fail(err)
	}
	// Reopened: badger keeps the buffers its stream writer built tables
	// with in a pool it frees only at close or after a while, which would
	// show as heap the report gives back while it is measured.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if db, err = store.Open(store.Options{Dir: dir + "/ledger", Profile: f.Profile, Clock: e.Clock, Logger: e.Logger}); err != nil {
		t.Fatal(err)
	}
	if e.Keys, err = keys.Open(dir+"/keys", e.Clock); err != nil {
		fail(err)
	}
	if _, err := e.Keys.Rotate(); err != nil {
		fail(err)
	}
	if e.Ledger, err = ledger.New(ledger.Options{DB: db, Clock: e.Clock, Keys: e.Keys, Logger: e.Logger}); err != nil {
		fail(err)
	}
	ctx := context.Background()
	if _, _, e.RootKey, err = e.Ledger.Bootstrap(ctx, "Vendor", "ops@vendor.test"); err != nil {
		fail(err)
	}
	sys := ledger.SystemActor()
	if _, err := e.Ledger.CreateCustomer(ctx, sys, ledger.CustomerInput{ID: "dist", Name: "dist", ParentID: e.Ledger.RootID()}); err != nil {
		fail(err)
	}
	for c := range f.Customers {
		if _, err := e.Ledger.CreateCustomer(ctx, sys, ledger.CustomerInput{ID: fleetCustomer(c), Name: fleetCustomer(c), ParentID: "dist"}); err != nil {
			fail(err)
		}
	}
	return e, db
}

func fleetCustomer(c int) string  { return fmt.Sprintf("c%04d", c) }
func fleetDevice(c, d int) string { return fmt.Sprintf("%s-d%06d", fleetCustomer(c), d) }

// fleetKeys yields a fleet's keys in ascending order: the device records
// (d/), their customer index (dc/), then every day of hourly counts (hd/),
// each by customer and device id, whose fixed widths make that byte order.
type fleetKeys struct {
	f       Fleet
	phase   int
	c, d, h int
	from    int64
}

func newFleetKeys(f Fleet) *fleetKeys {
	return &fleetKeys{f: f, from: f.From.Unix() - f.From.Unix()%3600}
}

func (k *fleetKeys) next() (key, val []byte, ok bool) {
	for k.phase < 3 {
		if k.c == k.f.Customers {
			k.phase, k.c, k.d, k.h = k.phase+1, 0, 0, 0
			continue
		}
		c, id := k.c, fleetDevice(k.c, k.d)
		switch k.phase {
		case 0:
			k.advance()
			b, _ := json.Marshal(ledger.Device{ID: id, CustomerID: fleetCustomer(c), Model: "sensor-a", KeyFingerprint: "fp-" + id, CreatedAt: Start})
			return store.DeviceKey(id), b, true
		case 1:
			k.advance()
			return store.DeviceByCustomerKey(fleetCustomer(c), id), nil, true
		default:
			if k.h == k.f.Hours {
				k.h = 0
				k.advance()
				continue
			}
			day := k.from + int64(k.h)*3600
			day -= day % (24 * 3600)
			var counts []syncproto.HourlyCount
			for ; k.h < k.f.Hours; k.h++ {
				hour := k.from + int64(k.h)*3600
				if hour-hour%(24*3600) != day {
					break
				}
				counts = append(counts, syncproto.HourlyCount{DeviceID: id, Hour: hour, Accepted: k.f.Accepted})
			}
			b, _ := ledger.EncodeCountDay(counts)
			return store.CountDayKey(id, day), b, true
		}
	}
	return nil, nil, false
}

// advance moves to the next device.
func (k *fleetKeys) advance() {
	if k.d++; k.d == k.f.DevicesPerCustomer {
		k.c, k.d = k.c+1, 0
	}
}
