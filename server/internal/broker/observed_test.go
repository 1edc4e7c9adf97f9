package broker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/shared/clock"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// sinkFlush records what an Observer flushes; fail makes the next flush fail.
type sinkFlush struct {
	mu   sync.Mutex
	got  map[string]int64 // customer/device/hour → count
	fail bool
}

func (s *sinkFlush) flush(_ context.Context, cs []ObservedCount) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail {
		s.fail = false
		return errors.New("ledger unavailable")
	}
	for _, c := range cs {
		s.got[fmt.Sprintf("%s/%s/%d", c.CustomerID, c.DeviceID, c.Hour)] += c.Count
	}
	return nil
}

func (s *sinkFlush) count(k string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.got[k]
}

func envelope(ts string) []byte {
	return wire.AppendTelemetry(nil, &wire.Telemetry{V: 1, DeviceID: "d1", CustomerID: "c1", LicenseID: "l1", Seq: 1, TS: ts, Data: []byte(`{"ts":"1999-01-01T00:00:00Z"}`)})
}

func TestObservedHour(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 30, 0, 0, time.UTC)
	hour := func(t time.Time) int64 { return t.Truncate(time.Hour).Unix() }
	tests := []struct {
		name    string
		payload []byte
		want    int64
	}{
		{"ok/ts-this-hour", envelope(now.Add(-time.Minute).Format(time.RFC3339Nano)), hour(now)},
		{"ok/ts-days-back", envelope(now.Add(-72 * time.Hour).Format(time.RFC3339Nano)), hour(now.Add(-72 * time.Hour))},
		{"ok/ts-nanos", envelope("2026-05-01T09:59:59.999999999Z"), hour(now.Add(-3 * time.Hour))},
		{"arrival/ts-too-old", envelope(now.Add(-32 * 24 * time.Hour).Format(time.RFC3339)), hour(now)},
		{"arrival/ts-ahead", envelope(now.Add(2 * time.Hour).Format(time.RFC3339)), hour(now)},
		{"arrival/no-ts", []byte(`{"t":21.5}`), hour(now)},
		{"arrival/bad-ts", []byte(`{"ts":"yesterday"}`), hour(now)},
		{"arrival/unterminated", []byte(`{"ts":"2026-05-01T12:00:00Z`), hour(now)},
		{"arrival/empty", nil, hour(now)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := observedHour(tc.payload, now.Unix()); got != tc.want {
				t.Fatalf("hour %s, want %s", time.Unix(got, 0).UTC(), time.Unix(tc.want, 0).UTC())
			}
		})
	}
}

func TestSplitTelemetry(t *testing.T) {
	tests := []struct {
		name, in  string
		sep       byte
		cust, dev string
		ok        bool
	}{
		{"ok/topic", "tollgate/v1/acme/dev-1/telemetry", '/', "acme", "dev-1", true},
		{"ok/subject", "tollgate.v1.acme.dev-1.telemetry", '.', "acme", "dev-1", true},
		{"no/control", "tollgate/v1/acme/dev-1/control", '/', "", "", false},
		{"no/deeper", "tollgate/v1/acme/dev-1/telemetry/x", '/', "", "", false},
		{"no/short", "tollgate/v1/acme/telemetry", '/', "", "", false},
		{"no/empty-level", "tollgate/v1//dev-1/telemetry", '/', "", "", false},
		{"no/other-root", "tollgate/v2/acme/dev-1/telemetry", '/', "", "", false},
		{"no/empty", "", '/', "", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, d, ok := splitTelemetry(tc.in, tc.sep)
			if c != tc.cust || d != tc.dev || ok != tc.ok {
				t.Fatalf("got %q %q %v", c, d, ok)
			}
		})
	}
}

// TestObserverFlushesAndKeepsCountsOnFailure: counts add up per (customer,
// device, hour); a failed flush keeps them for the next; past
// MaxObservedKeys new pairs are dropped and counted.
func TestObserverFlushesAndKeepsCountsOnFailure(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 30, 0, 0, time.UTC)
	clk := clock.NewFake(now)
	sink := &sinkFlush{got: map[string]int64{}}
	o := NewObserver(clk, sink.flush, testLogger())
	ts := now.Add(-2 * time.Hour).Format(time.RFC3339)
	for range 3 {
		o.ObserveTopic("tollgate/v1/acme/dev-1/telemetry", envelope(ts))
	}
	o.ObserveTopic("tollgate/v1/acme/dev-1/telemetry", []byte("raw"))
	o.ObserveTopic("tollgate/v1/acme/dev-1/control", []byte("not telemetry"))
	o.observeSubject("tollgate.v1.acme.dev//2.telemetry", []byte("raw"))
	h, h2 := now.Truncate(time.Hour).Unix(), now.Add(-2*time.Hour).Truncate(time.Hour).Unix()

	sink.fail = true
	if err := o.Flush(context.Background()); err == nil {
		t.Fatal("flush did not report the failure")
	}
	if got := o.Pending("acme", "dev-1", h2); got != 3 {
		t.Fatalf("after a failed flush %d pending, want 3 kept", got)
	}
	o.ObserveTopic("tollgate/v1/acme/dev-1/telemetry", envelope(ts))
	if err := o.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{fmt.Sprintf("acme/dev-1/%d", h2): 4, fmt.Sprintf("acme/dev-1/%d", h): 1, fmt.Sprintf("acme/dev.2/%d", h): 1}
	for k, n := range want {
		if got := sink.count(k); got != n {
			t.Fatalf("%s: flushed %d, want %d (all: %v)", k, got, n, sink.got)
		}
	}
	if o.Total() != 6 || o.Dropped() != 0 {
		t.Fatalf("total %d dropped %d", o.Total(), o.Dropped())
	}

	for i := range MaxObservedKeys + 5 {
		o.ObserveTopic(fmt.Sprintf("tollgate/v1/acme/d%d/telemetry", i), nil)
	}
	if o.Dropped() != 5 {
		t.Fatalf("dropped %d, want 5", o.Dropped())
	}
	select {
	case <-o.full:
	default:
		t.Fatal("a full observer did not ask for a flush")
	}
}

// TestObserverRunFlushesOnTickAndAtStop: Run flushes on its ticker and a
// last time when stopped, so a clean shutdown loses no count.
func TestObserverRunFlushesOnTickAndAtStop(t *testing.T) {
	sink := &sinkFlush{got: map[string]int64{}}
	o := NewObserver(clock.Real{}, sink.flush, testLogger())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { o.Run(ctx, 20*time.Millisecond); close(done) }()
	o.ObserveTopic("tollgate/v1/acme/dev-1/telemetry", nil)
	deadline := wall.Now().Add(5 * time.Second)
	for sumCounts(sink) != 1 && wall.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if sumCounts(sink) != 1 {
		t.Fatal("the ticker did not flush")
	}
	o.ObserveTopic("tollgate/v1/acme/dev-1/telemetry", nil)
	cancel()
	<-done
	if got := sumCounts(sink); got != 2 {
		t.Fatalf("after stop %d flushed, want 2", got)
	}
}

var wall clock.Clock = clock.Real{}

func sumCounts(s *sinkFlush) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for _, v := range s.got {
		n += v
	}
	return n
}

// TestEmbeddedBrokerFeedsTheObserver: telemetry published through the
// embedded broker reaches the observer under the topic's customer and
// device, in the hour of the envelope's ts.
func TestEmbeddedBrokerFeedsTheObserver(t *testing.T) {
	sink := &sinkFlush{got: map[string]int64{}}
	o := NewObserver(clock.Real{}, sink.flush, testLogger())
	b, err := Start(Config{StoreDir: t.TempDir(), Auth: fakeAuth{}, Logger: testLogger(), Observer: o})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	dev := mustConnect(t, b, "dev:d1")
	ts := wall.Now().Add(-5 * time.Hour).UTC()
	for range 4 {
		publish(t, dev, "tollgate/v1/c1/d1/telemetry", string(envelope(ts.Format(time.RFC3339Nano))))
	}
	deadline := wall.Now().Add(5 * time.Second)
	for o.Total() < 4 && wall.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if err := o.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	k := fmt.Sprintf("c1/d1/%d", ts.Truncate(time.Hour).Unix())
	if got := sink.count(k); got != 4 {
		t.Fatalf("%s: %d observed, want 4 (%v)", k, got, sink.got)
	}
}

func TestPushQueueCoalescesAndBounds(t *testing.T) {
	var mu sync.Mutex
	var built, published []string
	block := make(chan struct{})
	q := NewPushQueue(func(_ context.Context, dev string) (string, []byte, error) {
		mu.Lock()
		built = append(built, dev)
		mu.Unlock()
		if dev == "bad" {
			return "", nil, errors.New("unknown device")
		}
		<-block
		return "tollgate/v1/c1/" + dev + "/control", []byte("doc-" + dev), nil
	}, func(topic string, payload []byte) error {
		mu.Lock()
		published = append(published, topic)
		mu.Unlock()
		return nil
	}, testLogger())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go q.Run(ctx)
	q.Add("d1") // taken at once, blocks in build
	deadline := wall.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(built)
		mu.Unlock()
		if n == 1 || wall.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	for range 3 {
		q.Add("d2") // queued once
	}
	q.Add("bad")
	close(block)
	for {
		sent, failed, _ := q.Stats()
		if sent+failed == 3 || wall.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(built, []string{"d1", "d2", "bad"}) || !slices.Equal(published, []string{"tollgate/v1/c1/d1/control", "tollgate/v1/c1/d2/control"}) {
		t.Fatalf("built %v published %v", built, published)
	}
	if sent, failed, dropped := q.Stats(); sent != 2 || failed != 1 || dropped != 0 {
		t.Fatalf("stats %d %d %d", sent, failed, dropped)
	}
}

func TestPushQueueDropsWhenFull(t *testing.T) {
	q := NewPushQueue(nil, nil, testLogger()) // not run: nothing leaves
	for i := range MaxPendingPushes {
		if !q.Add(fmt.Sprint("d", i)) {
			t.Fatalf("push %d refused below the bound", i)
		}
	}
	if q.Add("one-more") {
		t.Fatal("push accepted beyond MaxPendingPushes")
	}
	if !q.Add("d7") {
		t.Fatal("a device already queued is refused")
	}
	if _, _, dropped := q.Stats(); dropped != 1 {
		t.Fatalf("dropped %d", dropped)
	}
}

// BenchmarkObserve is the broker's per-message cost of counting: find the
// ts in the envelope, bump the (device, hour) count.
func BenchmarkObserve(b *testing.B) {
	o := NewObserver(clock.Real{}, func(context.Context, []ObservedCount) error { return nil }, testLogger())
	p := envelope(wall.Now().UTC().Format(time.RFC3339Nano))
	topics := make([]string, 100)
	for i := range topics {
		topics[i] = fmt.Sprintf("tollgate.v1.acme.dev-%d.telemetry", i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		o.observeSubject(topics[i%len(topics)], p)
	}
}

// BenchmarkObserveVsSeen reports, as "ratio", what counting a message per
// (device, hour) costs against the per-device count the broker kept before
// (split the subject, bump a map under a mutex), measured interleaved in
// batches of the same run.
func BenchmarkObserveVsSeen(b *testing.B) {
	o := NewObserver(clock.Real{}, func(context.Context, []ObservedCount) error { return nil }, testLogger())
	p := envelope(wall.Now().UTC().Format(time.RFC3339Nano))
	topics := make([]string, 100)
	for i := range topics {
		topics[i] = fmt.Sprintf("tollgate.v1.acme.dev-%d.telemetry", i)
	}
	var mu sync.Mutex
	seen := map[string]uint64{}
	var tObs, tSeen time.Duration
	const batch = 1000
	b.ResetTimer()
	for done := 0; done < b.N; done += batch {
		t0 := wall.Now()
		for j := range batch {
			if dev, ok := telemetryDevice(topics[j%len(topics)]); ok {
				mu.Lock()
				seen[dev]++
				mu.Unlock()
			}
		}
		t1 := wall.Now()
		for j := range batch {
			o.observeSubject(topics[j%len(topics)], p)
		}
		t2 := wall.Now()
		tSeen += t1.Sub(t0)
		tObs += t2.Sub(t1)
	}
	b.ReportMetric(float64(tObs)/float64(tSeen), "ratio")
}
