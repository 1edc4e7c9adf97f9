package ledger

import (
	"bytes"
	"strconv"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
)

// seedCounts writes one count per hour of dev for the hours [from, to):
// reported, and when all is set observed (with its by-hour index) and
// received too.
func seedCounts(t *testing.T, e *env, dev string, from, to int64, all bool) {
	t.Helper()
	err := e.lg.update(func(o *op) error {
		x := o.x
		for h := from; h < to; h += 3600 {
			if err := o.putHeldCounts([]syncproto.HourlyCount{{DeviceID: dev, Hour: h, Accepted: 1}}); err != nil {
				return err
			}
			if !all {
				continue
			}
			for _, k := range [][]byte{store.ObservedCountKey(dev, h), store.ReceivedCountKey(dev, h)} {
				if err := x.Put(k, []byte("1")); err != nil {
					return err
				}
			}
			if err := x.Put(store.ObservedByHourKey(h, dev), nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// heldHours returns the oldest hour and the number of keys under p.
func heldHours(t *testing.T, e *env, p []byte) (oldest int64, n int) {
	t.Helper()
	err := e.lg.db.View(func(x *store.Txn) error {
		return x.Scan(p, nil, false, func(k, _ []byte) (bool, error) {
			h, err := strconv.ParseInt(store.LastPart(k), 10, 64)
			if n == 0 {
				oldest = h
			}
			n++
			return true, err
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return oldest, n
}

// TestPruneRetention: a device keeps the hourly counts of the longest
// retention of its bound license (dev-1: 60 days), the default
// retention without a license (dev-2: 30 days), and the retention of a
// license charged for it within that window even when no longer bound
// (dev-3: 90 days); older reported, observed (with the by-hour index) and
// received counts go. A pass deletes at most MaxPrunedPerPass and the
// next pass continues where it stopped.
func TestPruneRetention(t *testing.T) {
	e := newEnv(t)
	_, acme, _, _ := e.tree()
	for _, id := range []string{"dev-1", "dev-2", "dev-3"} {
		e.device(acme, "acme", id, "sensor-a")
	}
	in := std("acme")
	in.RetentionDays = 60
	e.bind(acme, e.create(admin("dist"), in).ID, "dev-1")
	in.RetentionDays = 90
	gone := e.create(admin("dist"), in)

	now := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	e.clk.Set(now)
	day := int64(86400)
	from, to := now.Unix()-100*day, now.Unix()
	seedCounts(t, e, "dev-1", from, to, true)
	seedCounts(t, e, "dev-2", from, to, false)
	seedCounts(t, e, "dev-3", from, to, false)
	err := e.lg.db.Update(func(x *store.Txn) error {
		return x.PutJSON(store.DeductionKey("dev-3", 1), Deduction{Seq: 1, DeviceID: "dev-3", LicenseID: gone.ID, At: now.Add(-20 * Day)})
	})
	if err != nil {
		t.Fatal(err)
	}

	// Old counts: dev-1 40 days in three tables — reported counts one
	// record per day, the others one per hour — dev-2 70 days, dev-3 10.
	old := 40 + 40*24*2 + 70 + 10
	want := []int{MaxPrunedPerPass, old - MaxPrunedPerPass, 0}
	for i, w := range want {
		n, err := e.lg.PruneRetention(ctx)
		if err != nil || n != w {
			t.Fatalf("pass %d pruned %d, %v; want %d", i+1, n, err, w)
		}
	}
	for _, c := range []struct {
		name string
		p    []byte
		keep int64
	}{
		{"dev-1 reported", nil, 60},
		{"dev-1 observed", store.ObservedCountPrefix("dev-1"), 60},
		{"dev-1 received", store.ReceivedCountPrefix("dev-1"), 60},
		{"dev-2 reported", nil, 30},
		{"dev-3 reported", nil, 90},
	} {
		var oldest int64
		var n int
		if c.p == nil {
			oldest, n = heldCountHours(t, e, c.name[:5])
		} else {
			oldest, n = heldHours(t, e, c.p)
		}
		if oldest != to-c.keep*day || n != int(c.keep*24) {
			t.Errorf("%s: oldest %d, %d hours; want %d, %d", c.name, oldest, n, to-c.keep*day, c.keep*24)
		}
	}
	var index int
	err = e.lg.db.View(func(x *store.Txn) error {
		return x.Scan(store.ObservedByHourPrefix(), nil, false, func(k, _ []byte) (bool, error) {
			h, dev, ok := store.ObservedHourDevice(bytes.Clone(k))
			if !ok || dev != "dev-1" || h < to-60*day {
				t.Errorf("index entry %q left", k)
			}
			index++
			return true, nil
		})
	})
	if err != nil || index != 60*24 {
		t.Fatalf("observed index: %d entries, %v; want %d", index, err, 60*24)
	}
}
