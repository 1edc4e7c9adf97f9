package drive

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/firmware-sim/internal/fleet"
	"github.com/tollgate-iot/tollgate/firmware-sim/internal/pattern"
	"github.com/tollgate-iot/tollgate/firmware-sim/internal/simclock"
	"github.com/tollgate-iot/tollgate/shared/clock"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// fakeAgent answers the ingest contract: it accepts the first limit
// samples and refuses the rest over_budget; its status reports a queue
// that empties after the run.
type fakeAgent struct {
	mu       sync.Mutex
	limit    int
	accepted int
	batches  int
	ts       []string
}

func (f *fakeAgent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch r.URL.Path {
	case "/v1/status":
		json.NewEncoder(w).Encode(map[string]any{"device_id": "press-01", "refused": map[string]int{}, "queue": map[string]int{"depth": 0}})
	case "/v1/samples":
		var req wire.IngestRequest
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil || len(req.Samples) == 0 || len(req.Samples) > 1000 {
			http.Error(w, "bad batch", http.StatusBadRequest)
			return
		}
		f.batches++
		var res wire.IngestResponse
		for _, s := range req.Samples {
			if s.DeviceID != "press-01" || s.Validate(16<<10) != nil {
				http.Error(w, "bad sample", http.StatusBadRequest)
				return
			}
			f.ts = append(f.ts, s.TS)
			if f.accepted < f.limit {
				f.accepted++
				res.Results = append(res.Results, wire.Result{Accepted: true, Seq: int64(f.accepted)})
			} else {
				res.Results = append(res.Results, wire.Result{Reason: "over_budget"})
			}
		}
		json.NewEncoder(w).Encode(res)
	default:
		http.NotFound(w, r)
	}
}

// TestRunCountsAnswers drives one device for two simulated hours (at 60
// per hour, 36,000× faster than real) against an agent that takes 100.
func TestRunCountsAnswers(t *testing.T) {
	fa := &fakeAgent{limit: 100}
	srv := httptest.NewServer(fa)
	defer srv.Close()
	tg, err := fleet.FromURL(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	a := &Agent{Target: tg, Devices: []*Device{NewDevice("press-01", ViaHTTP)}}
	ctx := context.Background()
	if err := Snapshot(ctx, []*Agent{a}); err != nil {
		t.Fatal(err)
	}
	sim := simclock.Scaled{Real: clock.Real{}, Origin: clock.Real{}.Now(), Speed: 36000}
	o := Options{Pattern: pattern.Pattern{Kind: pattern.Steady, Rate: 60}, Sim: sim, Wall: clock.Real{}, Tick: 10 * time.Millisecond}
	o.From = sim.Now()
	o.To = o.From.Add(2 * time.Hour)
	var last Progress
	o.Progress, o.ProgressEvery = func(p Progress) { last = p }, 50*time.Millisecond
	if err := Run(ctx, o, []*Agent{a}); err != nil {
		t.Fatal(err)
	}
	d := a.Devices[0]
	if d.Sent != 120 || d.Accepted != 100 || d.Refused["over_budget"] != 20 || len(d.Refused) != 1 {
		t.Fatalf("device %+v", d)
	}
	if !last.Final || last.Sent != 120 || last.Accepted != 100 || last.Refused != 20 || !last.Sim.Equal(o.To) {
		t.Fatalf("final progress %+v", last)
	}
	if fa.batches < 2 {
		t.Fatalf("%d batches: the run did not pace itself over ticks", fa.batches)
	}
	// The samples carry their scheduled instants: one a minute, in order,
	// the last at the end of the run.
	for i := 1; i < len(fa.ts); i++ {
		a, _ := time.Parse(time.RFC3339Nano, fa.ts[i-1])
		b, _ := time.Parse(time.RFC3339Nano, fa.ts[i])
		if b.Sub(a) != time.Minute {
			t.Fatalf("samples %d and %d are %v apart", i-1, i, b.Sub(a))
		}
	}
	if !strings.HasPrefix(fa.ts[len(fa.ts)-1], o.To.UTC().Format("2006-01-02T15:04")) {
		t.Fatalf("last sample at %s, run ends %v", fa.ts[len(fa.ts)-1], o.To)
	}
	if _, err := Settle(ctx, clock.Real{}, []*Agent{a}, time.Second, time.Second); err != nil || !a.Settled {
		t.Fatalf("settle: %v, settled %v", err, a.Settled)
	}
}

// TestRunStopsOnBadAnswer: an agent that breaks the contract ends the run
// with ErrAgent.
func TestRunStopsOnBadAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"results":[]}`))
	}))
	defer srv.Close()
	tg, _ := fleet.FromURL(srv.URL)
	a := &Agent{Target: tg, Devices: []*Device{NewDevice("press-01", ViaHTTP)}}
	sim := simclock.Scaled{Real: clock.Real{}, Origin: clock.Real{}.Now(), Speed: 36000}
	o := Options{Pattern: pattern.Pattern{Kind: pattern.Steady, Rate: 60}, Sim: sim, Wall: clock.Real{}, Tick: 10 * time.Millisecond}
	o.From = sim.Now()
	o.To = o.From.Add(time.Hour)
	if err := Run(context.Background(), o, []*Agent{a}); !errors.Is(err, ErrAgent) {
		t.Fatalf("Run = %v, want ErrAgent for a short answer", err)
	}
}
