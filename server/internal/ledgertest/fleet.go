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
// reported Accepted samples in each of Hours hours from From. Customers
// are created through the ledger; devices and hourly counts are written
// straight into the store in large unsynced batches, as a sync would
// leave them — going through syncs would take far longer than what is
// measured.
type Fleet struct {
	Customers          int
	DevicesPerCustomer int
	From               time.Time
	Hours              int
	Accepted           int64
	// Profile is the store profile (default: the small one).
	Profile store.Profile
}

// fleetBatch is how many keys one seeding transaction writes: well inside
// the largest transaction of the small profile.
const fleetBatch = 5_000

// OpenFleet opens a bootstrapped ledger in dir (t.TempDir() when empty)
// holding f. The caller closes the returned DB (a benchmark keeps one
// fleet for all its runs); with a test's own dir it closes with the test.
func OpenFleet(t testing.TB, dir string, f Fleet) (*Env, *store.DB) {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	if f.Profile == "" {
		f.Profile = store.ProfileSmall
	}
	e := &Env{Clock: clock.NewFake(Start), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	db, err := store.Open(store.Options{Dir: dir + "/ledger", Profile: f.Profile, Clock: e.Clock, Logger: e.Logger, Unsynced: true})
	if err != nil {
		t.Fatal(err)
	}
	if e.Keys, err = keys.Open(dir+"/keys", e.Clock); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Keys.Rotate(); err != nil {
		t.Fatal(err)
	}
	if e.Ledger, err = ledger.New(ledger.Options{DB: db, Clock: e.Clock, Keys: e.Keys, Logger: e.Logger}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, _, e.RootKey, err = e.Ledger.Bootstrap(ctx, "Vendor", "ops@vendor.test"); err != nil {
		t.Fatal(err)
	}
	sys := ledger.SystemActor()
	if _, err := e.Ledger.CreateCustomer(ctx, sys, ledger.CustomerInput{ID: "dist", Name: "dist", ParentID: e.Ledger.RootID()}); err != nil {
		t.Fatal(err)
	}
	w := &fleetWriter{db: db}
	for c := range f.Customers {
		cid := fmt.Sprintf("c%04d", c)
		if _, err := e.Ledger.CreateCustomer(ctx, sys, ledger.CustomerInput{ID: cid, Name: cid, ParentID: "dist"}); err != nil {
			t.Fatal(err)
		}
		for d := range f.DevicesPerCustomer {
			if err := w.device(cid, fmt.Sprintf("%s-d%06d", cid, d), f); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.flush(); err != nil {
		t.Fatal(err)
	}
	if err := db.Sync(); err != nil {
		t.Fatal(err)
	}
	return e, db
}

// fleetWriter gathers keys and writes them fleetBatch at a time.
type fleetWriter struct {
	db   *store.DB
	keys [][]byte
	vals [][]byte
}

func (w *fleetWriter) put(k, v []byte) error {
	w.keys, w.vals = append(w.keys, k), append(w.vals, v)
	if len(w.keys) >= fleetBatch {
		return w.flush()
	}
	return nil
}

func (w *fleetWriter) flush() error {
	if len(w.keys) == 0 {
		return nil
	}
	err := w.db.Update(func(x *store.Txn) error {
		for i, k := range w.keys {
			if err := x.Put(k, w.vals[i]); err != nil {
				return err
			}
		}
		return nil
	})
	w.keys, w.vals = w.keys[:0], w.vals[:0]
	return err
}

func (w *fleetWriter) device(customer, id string, f Fleet) error {
	d := ledger.Device{ID: id, CustomerID: customer, Model: "sensor-a", KeyFingerprint: "fp-" + id, CreatedAt: Start}
	b, err := jsonOf(d)
	if err != nil {
		return err
	}
	if err := w.put(store.DeviceKey(id), b); err != nil {
		return err
	}
	if err := w.put(store.DeviceByCustomerKey(customer, id), nil); err != nil {
		return err
	}
	from := f.From.Unix() - f.From.Unix()%3600
	for h := range f.Hours {
		hour := from + int64(h)*3600
		b, err := jsonOf(syncproto.HourlyCount{DeviceID: id, Hour: hour, Accepted: f.Accepted})
		if err != nil {
			return err
		}
		if err := w.put(store.HourlyCountKey(id, hour), b); err != nil {
			return err
		}
	}
	return nil
}

func jsonOf(v any) ([]byte, error) { return json.Marshal(v) }
