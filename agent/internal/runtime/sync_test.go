package runtime

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/agent/internal/config"
	"github.com/tollgate-iot/tollgate/agent/internal/effclock"
	"github.com/tollgate-iot/tollgate/agent/internal/limits"
	"github.com/tollgate-iot/tollgate/agent/internal/syncer"
	"github.com/tollgate-iot/tollgate/agent/internal/testkit"
	"github.com/tollgate-iot/tollgate/shared/clock"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
	"github.com/tollgate-iot/tollgate/shared/token"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// answering is a license server stand-in: it verifies nothing of the
// report beyond its device and answers with the documents it is given,
// signed by the pinned test key.
func answering(t *testing.T, serverTime func() int64, docs func() (tokens []string, rev string)) *httptest.Server {
	t.Helper()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		dev, err := syncproto.PeekDevice(token.KindSyncRequest, string(b))
		if err != nil {
			t.Errorf("peek: %v", err)
			return
		}
		env, _ := token.Parse(token.KindSyncRequest, string(b))
		var rep syncproto.Report
		token.DecodePayload(env.Payload, &rep)
		toks, rev := docs()
		text, err := syncproto.SignResponse(testkit.Signer(t), &syncproto.Response{DeviceID: dev, Nonce: rep.Nonce,
			ServerTime: serverTime(), Missing: []syncproto.SeqRange{}, Tokens: toks, RevocationList: rev})
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, text)
	}))
	t.Cleanup(hs.Close)
	return hs
}

func openWithServer(t *testing.T, url string) (*Agent, string) {
	return openWithServerOpts(t, url, Options{Logger: discardLogger()})
}

func openWithServerOpts(t *testing.T, url string, o Options) (*Agent, string) {
	t.Helper()
	cfg := config.Default()
	cfg.Data = filepath.Join(t.TempDir(), "data")
	cfg.Server = url
	id, err := Init(context.Background(), cfg, InitRequest{DeviceID: devID, Model: "TG-100", Trust: testkit.TrustBundle(t)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Ingest = "127.0.0.1:0"
	a, err := Open(context.Background(), cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a, id.PublicKey
}

// TestSyncAppliesAnswer: the answer's server time moves the effective
// clock; a newer token is stored, a lower version and an older revocation
// list are skipped without failing the sync; a newer list revokes.
func TestSyncAppliesAnswer(t *testing.T) {
	var tokens []string
	var rev string
	serverTime := clock.Real{}.Now().Add(2 * time.Hour).Unix()
	hs := answering(t, func() int64 { return serverTime }, func() ([]string, string) { return tokens, rev })
	a, pub := openWithServer(t, hs.URL)
	lic := func(v int64) (string, string) {
		var id string
		text := license(t, pub, func(l *token.License) { l.Version = v; id = l.LicenseID })
		return id, text
	}
	licID, v2 := lic(2)
	_, rev2 := testkit.Revocation(t, 2, nil, nil, nil)
	if _, err := a.Activate([]string{v2, rev2}); err != nil {
		t.Fatal(err)
	}
	if a.Status().LastSync != nil {
		t.Fatal("last_sync before any sync")
	}
	_, v1 := lic(1)
	_, v3 := lic(3)
	_, rev1 := testkit.Revocation(t, 1, nil, nil, nil)
	tokens, rev = []string{v1, v3}, rev1
	if _, err := a.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := a.Status()
	if len(st.Licenses) != 1 || st.Licenses[0].Version != 3 || st.Revocation.Seq != 2 || st.LastSync == nil {
		t.Fatalf("after sync: licenses %+v, revocation %+v, last_sync %v", st.Licenses, st.Revocation, st.LastSync)
	}
	if eff, _ := a.clk.Now(); eff/int64(time.Second) < serverTime {
		t.Fatalf("effective time %d behind the server's %d", eff/int64(time.Second), serverTime)
	}
	_, rev3 := testkit.Revocation(t, 3, []string{licID}, nil, nil)
	tokens, rev = []string{v3}, rev3
	if _, err := a.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := a.Status(); st.Revocation.Seq != 3 || st.Licenses[0].Status != "revoked" {
		t.Fatalf("after the revoking list: %+v %+v", st.Revocation, st.Licenses)
	}
}

func TestSyncWithoutServer(t *testing.T) {
	a, _ := openWithServer(t, "")
	_, err := a.Sync(context.Background())
	if !errors.Is(err, syncer.ErrNoServer) || ErrorCode(err) != "no_server" {
		t.Fatalf("Sync without a server = %v (%s)", err, ErrorCode(err))
	}
}

// TestRunSyncsInBackground: with a server configured, Run syncs on the
// network timers: first within SyncFirstDelayMax, then again after a
// backoff when the server fails, while samples go on being taken.
func TestRunSyncsInBackground(t *testing.T) {
	reports := make(chan int, 16)
	n := 0
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n++
		reports <- n
		http.Error(w, `{"error":{"code":"internal","message":"down"}}`, http.StatusInternalServerError)
	}))
	t.Cleanup(hs.Close)
	timers := clock.NewFake(clock.Real{}.Now())
	a, pub := openWithServerOpts(t, hs.URL, Options{Logger: discardLogger(), Timers: timers})
	if _, err := a.Activate([]string{license(t, pub, nil)}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan Addrs, 1)
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, func(ad Addrs) { ready <- ad }) }()
	addr := (<-ready).Ingest
	defer func() { cancel(); <-done }()

	// Step the timers a second at a time until a report arrives.
	awaitReport := func(within time.Duration) time.Duration {
		t.Helper()
		for waited := time.Duration(0); waited <= within; waited += time.Second {
			select {
			case <-reports:
				return waited
			case <-time.After(5 * time.Millisecond):
			}
			timers.Advance(time.Second)
		}
		t.Fatalf("no sync within %s of timer time", within)
		return 0
	}
	awaitReport(limits.SyncFirstDelayMax + time.Second)
	if got := post(t, addr, batch(3, "")); !got.Results[0].Accepted {
		t.Fatalf("samples while syncing fails: %+v", got.Results)
	}
	// The 500 is retryable: the next attempt comes after a backoff, not an interval.
	if waited := awaitReport(limits.SyncInterval); waited > limits.SyncBackoffMin*12/10+time.Second {
		t.Fatalf("retry after %s, want about %s", waited, limits.SyncBackoffMin)
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(b), `tollgate_agent_sync_total{result="error"}`) {
		t.Fatalf("metrics lack the sync counter:\n%s", b)
	}
}

// capturing is a license server stand-in that keeps every report it
// verifies the device of, and acknowledges it with nothing else.
func capturing(t *testing.T, reports *[]syncproto.Report) *httptest.Server {
	t.Helper()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		env, err := token.Parse(token.KindSyncRequest, string(b))
		var rep syncproto.Report
		if err == nil {
			err = token.DecodePayload(env.Payload, &rep)
		}
		if err != nil {
			t.Errorf("report: %v", err)
			return
		}
		*reports = append(*reports, rep)
		text, err := syncproto.SignResponse(testkit.Signer(t), &syncproto.Response{DeviceID: rep.DeviceID, Nonce: rep.Nonce,
			ServerTime: rep.SentAt, Missing: []syncproto.SeqRange{}, Tokens: []string{}})
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, text)
	}))
	t.Cleanup(hs.Close)
	return hs
}

// TestSyncReportsRefusedPerHour: samples the gate refuses are counted per
// device and hour, persisted with the counters (adding to what a previous
// run persisted), and reported as the hour's refused count; the request
// carries the agent's wall clock.
func TestSyncReportsRefusedPerHour(t *testing.T) {
	var reports []syncproto.Report
	hs := capturing(t, &reports)
	a, _ := openWithServer(t, hs.URL)
	refuse := func(n int) {
		d := a.gate.Lookup(devID)
		for range n {
			if dec := a.gate.Decide(d); dec.Reason == 0 {
				t.Fatal("a device without a license accepted a sample")
			}
		}
	}
	refuse(5)
	if err := a.persistCounters(); err != nil {
		t.Fatal(err)
	}
	refuse(2) // counted again from the saved 5
	if err := a.persistCounters(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := reports[len(reports)-1]
	if len(r.Counts) != 1 || r.Counts[0].DeviceID != devID || r.Counts[0].Refused != 7 || r.Counts[0].Accepted != 0 {
		t.Fatalf("counts %+v, want one hour of %s with 7 refused", r.Counts, devID)
	}
	if by := r.Counts[0].RefusedBy; len(by) != 1 || by[wire.ReasonNoLicense] != 7 {
		t.Fatalf("refused by reason %v, want 7 no_license", by)
	}
	if wall := (clock.Real{}).Now().Unix(); r.SentWall < wall-60 || r.SentWall > wall+60 {
		t.Fatalf("sent_wall %d, the wall clock is %d", r.SentWall, wall)
	}
	// A restart starts counting from zero; what it persists adds up.
	cfg := a.cfg
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	a, err := Open(context.Background(), cfg, Options{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	refuse(1)
	if err := a.persistCounters(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	last := reports[len(reports)-1]
	if len(last.Counts) != 1 || last.Counts[0].Refused != 8 || last.Counts[0].RefusedBy[wire.ReasonNoLicense] != 8 {
		t.Fatalf("after a restart: counts %+v, want 8 refused, 8 of them no_license", last.Counts)
	}
}

// TestSyncWallClockBeneathSimulation: under --clock-speed the request's
// sent_wall is the real clock, not the scaled one; a wall clock that is
// not set is not sent at all.
func TestSyncWallClockBeneathSimulation(t *testing.T) {
	real := clock.Real{}.Now()
	fast := effclock.Scaled{Origin: real.Add(-time.Hour), Speed: 1000} // about 41 days ahead
	a, _ := openWithServerOpts(t, "http://127.0.0.1:1", Options{Logger: discardLogger(), Clock: fast})
	if eff := a.effSeconds(); eff < real.Add(30*24*time.Hour).Unix() {
		t.Fatalf("effective time %d is not ahead", eff)
	}
	if w := a.wallSeconds(); w < real.Unix()-60 || w > real.Unix()+60 {
		t.Fatalf("sent_wall %d, the real clock is %d", w, real.Unix())
	}
	unset, _ := openWithServerOpts(t, "http://127.0.0.1:1", Options{Logger: discardLogger(), Clock: clock.NewFake(time.Unix(3600, 0))})
	if w := unset.wallSeconds(); w != 0 {
		t.Fatalf("a wall clock at 1970 sent as %d", w)
	}
}
