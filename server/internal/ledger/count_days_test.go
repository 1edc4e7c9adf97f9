package ledger

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
)

// hoursOf is n hourly counts of dev from the hour from on, hour i
// accepting accepted+i samples.
func hoursOf(dev string, from time.Time, n int, accepted int64) []syncproto.HourlyCount {
	out := make([]syncproto.HourlyCount, n)
	for i := range out {
		out[i] = syncproto.HourlyCount{DeviceID: dev, Hour: from.Add(time.Duration(i) * time.Hour).Unix(), Accepted: accepted + int64(i)}
	}
	return out
}

// heldOf reads the count held for dev's hour.
func heldOf(t *testing.T, e *env, dev string, hour int64) (c syncproto.HourlyCount, found bool) {
	t.Helper()
	err := e.lg.view(func(o *op) error {
		var err error
		c, found, err = o.heldCount(dev, hour)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return c, found
}

// TestCountsKeptOneRecordPerDay: a report's hourly counts are kept one
// record per device and UTC day — 30 hours from 20:00 are three records —
// and every hour reads back as reported; the next report's hours join
// the records of their days, and an hour reported again higher replaces
// the one held, the others of its day kept.
func TestCountsKeptOneRecordPerDay(t *testing.T) {
	e := newEnv(t)
	ids, lics := e.syncFleet(1)
	dev := ids[0]
	from := time.Date(2026, 3, 11, 20, 0, 0, 0, time.UTC)
	r := batchReport(dev, lics[0], e.clk.Now().Add(-time.Hour), 1, 0)
	r.Counts = hoursOf(dev, from, 30, 100)
	if _, err := e.lg.Reconcile(ctx, dev, r); err != nil {
		t.Fatal(err)
	}
	if n := countDayRecords(t, e, dev); n != 3 {
		t.Fatalf("30 hours from 20:00 kept in %d records, want 3 (4 + 24 + 2 hours)", n)
	}
	for _, c := range r.Counts {
		if got, ok := heldOf(t, e, dev, c.Hour); !ok || !got.Equal(&c) {
			t.Fatalf("hour %d: held %+v (%v), want %+v", c.Hour, got, ok, c)
		}
	}

	// The next report: the last hour again, higher, and 4 new hours.
	last := r.Counts[len(r.Counts)-1]
	r2 := batchReport(dev, lics[0], e.clk.Now().Add(-time.Hour), 2, 0)
	r2.Nonce = "BBBBBBBBBBBBBBBBBBBBBB"
	r2.Counts = append([]syncproto.HourlyCount{{DeviceID: dev, Hour: last.Hour, Accepted: last.Accepted + 50}},
		hoursOf(dev, time.Unix(last.Hour, 0).Add(time.Hour), 4, 500)...)
	if _, err := e.lg.Reconcile(ctx, dev, r2); err != nil {
		t.Fatal(err)
	}
	if n := countDayRecords(t, e, dev); n != 3 {
		t.Fatalf("after the next report: %d records, want still 3 (its hours are of the last day)", n)
	}
	if _, n := heldCountHours(t, e, dev); n != 34 {
		t.Fatalf("%d hours held, want 34", n)
	}
	if got, _ := heldOf(t, e, dev, last.Hour); got.Accepted != last.Accepted+50 {
		t.Fatalf("hour reported again: %d accepted held, want %d", got.Accepted, last.Accepted+50)
	}
	before := r.Counts[len(r.Counts)-2]
	if got, _ := heldOf(t, e, dev, before.Hour); !got.Equal(&before) {
		t.Fatalf("the hour before it, of the same day: held %+v, want %+v", got, before)
	}
}

// TestCountsConvertedToDays: a ledger that kept one record per hour is
// converted when it opens: every hour of every device is then read from
// its day's record with what it held, no hourly record is left, and the
// ledger is marked converted; a record no reader could read is dropped
// (and logged) instead of stopping the server. A conversion stopped between two of its
// transactions (a crash) goes on where it stopped at the next open,
// losing and doubling nothing; an open after it changes nothing.
func TestCountsConvertedToDays(t *testing.T) {
	e := newEnv(t)
	db := e.lg.db
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	devs := []string{"old-1", "old-2"}
	want := map[string][]syncproto.HourlyCount{}
	err := db.Update(func(x *store.Txn) error {
		if err := x.Delete(store.CountDaysKey()); err != nil {
			return err
		}
		// A record no reader could read: dropped, the rest converted.
		if err := x.Put(store.HourlyCountKey("old-0", 3600), []byte("not json")); err != nil {
			return err
		}
		for i, dev := range devs {
			want[dev] = hoursOf(dev, from.Add(time.Duration(i)*time.Hour), countDaysBatch/2+100, int64(i)*1000)
			for _, c := range want[dev] {
				if err := x.PutJSON(store.HourlyCountKey(dev, c.Hour), &c); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// One conversion transaction, as if the server died after it.
	if n, done, err := e.lg.migrateCountDaysBatch(); err != nil || done || n != countDaysBatch {
		t.Fatalf("first batch: %d converted, done %v, %v; want %d and more to do", n, done, err, countDaysBatch)
	}
	if left := countKeys(t, e, store.HourlyCountAll()); left != 1+2*(countDaysBatch/2+100)-countDaysBatch {
		t.Fatalf("%d hourly records left after one batch", left)
	}
	for range 2 { // the open that finishes it, then one that has nothing to do
		lg, err := New(Options{DB: db, Clock: e.clk, Keys: e.ks, Logger: e.lg.log})
		if err != nil {
			t.Fatal(err)
		}
		e.lg = lg
		if left := countKeys(t, e, store.HourlyCountAll()); left != 0 {
			t.Fatalf("%d hourly records left after the conversion", left)
		}
		for _, dev := range devs {
			var got []syncproto.HourlyCount
			err := e.lg.view(func(o *op) error {
				return o.scanCounts(dev, 0, false, func(c *syncproto.HourlyCount) (bool, error) {
					got = append(got, *c)
					return true, nil
				})
			})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.EqualFunc(got, want[dev], func(a, b syncproto.HourlyCount) bool { return a.Equal(&b) }) {
				t.Fatalf("%s: %d hours after the conversion, want the %d it held", dev, len(got), len(want[dev]))
			}
		}
		if countKeys(t, e, store.CountDaysKey()) != 1 {
			t.Fatal("the ledger is not marked converted")
		}
	}
}

// countKeys counts the keys with prefix p.
func countKeys(t *testing.T, e *env, p []byte) int {
	t.Helper()
	n := 0
	err := e.lg.db.View(func(x *store.Txn) error {
		return x.Scan(p, nil, false, func(_, _ []byte) (bool, error) {
			n++
			return true, nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPruneRetentionTrimsTheCutoffDay: when the retention cutoff falls
// inside a day, that day's record keeps its hours from the cutoff on; the
// days before it go whole.
func TestPruneRetentionTrimsTheCutoffDay(t *testing.T) {
	e := newEnv(t)
	_, acme, _, _ := e.tree()
	e.device(acme, "acme", "dev-1", "sensor-a")
	now := time.Date(2026, 9, 1, 12, 0, 0, 0, time.UTC)
	e.clk.Set(now)
	cutoff := now.Add(-DefaultRetentionDays * Day)
	seedCounts(t, e, "dev-1", cutoff.Add(-50*time.Hour).Unix(), now.Unix(), false)
	if _, err := e.lg.PruneRetention(ctx); err != nil {
		t.Fatal(err)
	}
	oldest, n := heldCountHours(t, e, "dev-1")
	if oldest != cutoff.Unix() || n != DefaultRetentionDays*24 {
		t.Fatalf("oldest %v, %d hours held; want %v, %d", time.Unix(oldest, 0).UTC(), n, cutoff, DefaultRetentionDays*24)
	}
	if n := countDayRecords(t, e, "dev-1"); n != DefaultRetentionDays+1 {
		t.Fatalf("%d day records, want %d (the cutoff's day trimmed, not gone)", n, DefaultRetentionDays+1)
	}
}

// TestUnreadableCountDayRefusesTheSync: a day record the ledger cannot
// read (a damaged store) refuses the report whose hours it holds with an
// error that names it, and charges nothing — no panic, no count lost by
// writing over it.
func TestUnreadableCountDayRefusesTheSync(t *testing.T) {
	e := newEnv(t)
	ids, lics := e.syncFleet(1)
	dev := ids[0]
	at := e.clk.Now().Add(-2 * time.Hour).Truncate(time.Hour)
	err := e.lg.db.Update(func(x *store.Txn) error {
		return x.Put(store.CountDayKey(dev, dayOf(at.Unix())), []byte(`{"device_id":"`+dev+`","hour":1}`+"\n"+`garbage`))
	})
	if err != nil {
		t.Fatal(err)
	}
	days := e.get(lics[0]).AvailableDays
	_, err = e.lg.Reconcile(ctx, dev, batchReport(dev, lics[0], at, 1, 5))
	if !errors.Is(err, errCountDay) {
		t.Fatalf("sync over an unreadable day: %v, want %v", err, errCountDay)
	}
	if got := e.get(lics[0]).AvailableDays; got != days {
		t.Fatalf("%d days left, want %d: the refused report charged", got, days)
	}
}

// FuzzParseCountDay: any stored bytes either parse into hours of the day,
// ascending, whose record encodes back to what was read, or are refused
// with errCountDay; never a panic.
func FuzzParseCountDay(f *testing.F) {
	day := int64(20_000) * daySeconds
	good, _ := EncodeCountDay(hoursOf("d", time.Unix(day, 0), 3, 1))
	f.Add(good, day)
	f.Add([]byte(`{"device_id":"d","hour":3600,"accepted":1,"overage":0,"refused":0,"refused_by":{"over_budget":1}}`), int64(0))
	f.Add([]byte(""), day)
	f.Add([]byte("\n\n"), day)
	f.Fuzz(func(t *testing.T, v []byte, day int64) {
		d, err := parseCountDay(v, day)
		if err != nil {
			if !errors.Is(err, errCountDay) {
				t.Fatalf("error %v is not errCountDay", err)
			}
			return
		}
		if !bytes.Equal(d.encode(), v) {
			t.Fatalf("record %q encodes back as %q", v, d.encode())
		}
		for i, h := range d.hours {
			if dayOf(h) != day || i > 0 && h <= d.hours[i-1] {
				t.Fatalf("hours %v out of day %d or order", d.hours, day)
			}
		}
	})
}

// TestReportRaisingTooManyHeldDaysRefused: the attack of a tampered device
// with its own valid key — it first reports an hour in each of many days
// (cheap: one small record each), then reports each of those hours one
// higher, so that every count of the report makes the server rewrite a
// whole day's record. Up to MaxRaisedCountDays held days a report is
// applied; one day more and it is refused as ErrTooManyCountDays with
// nothing of it applied (no day charged, no count written).
func TestReportRaisingTooManyHeldDaysRefused(t *testing.T) {
	e := newEnv(t)
	ids, lics := e.syncFleet(1)
	dev := ids[0]
	first := dayOf(e.clk.Now().Add(-400 * Day).Unix())
	spread := func(n int, accepted int64) []syncproto.HourlyCount {
		out := make([]syncproto.HourlyCount, n)
		for i := range out {
			out[i] = syncproto.HourlyCount{DeviceID: dev, Hour: first + int64(i)*daySeconds, Accepted: accepted}
		}
		return out
	}
	seq := int64(0)
	report := func(counts []syncproto.HourlyCount) error {
		seq++
		r := batchReport(dev, lics[0], e.clk.Now().Add(-time.Hour), seq, 0)
		r.Nonce = fmt.Sprintf("%022d", seq)
		r.Counts = counts
		_, err := e.lg.Reconcile(ctx, dev, r)
		return err
	}
	if err := report(spread(MaxRaisedCountDays+1, 1)); err != nil {
		t.Fatal(err)
	}
	if err := report(spread(MaxRaisedCountDays, 2)); err != nil {
		t.Fatalf("raising %d held days: %v", MaxRaisedCountDays, err)
	}
	days := e.get(lics[0]).AvailableDays
	err := report(spread(MaxRaisedCountDays+1, 3))
	if !errors.Is(err, ErrTooManyCountDays) {
		t.Fatalf("raising %d held days: %v, want %v", MaxRaisedCountDays+1, err, ErrTooManyCountDays)
	}
	if got := e.get(lics[0]).AvailableDays; got != days {
		t.Fatalf("%d days left after the refused report, want %d", got, days)
	}
	if c, _ := heldOf(t, e, dev, first); c.Accepted != 2 {
		t.Fatalf("first day's hour holds %d accepted after the refused report, want 2", c.Accepted)
	}
}
