package api

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/tollgate-iot/tollgate/server/internal/keys"
	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/server/internal/ledgertest"
	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/clock"
)

// restartable is a server whose store and keys live in fixed directories,
// so that it can be stopped and started again on the same data.
type restartable struct {
	t        *testing.T
	dir      string
	clk      *clock.Fake
	env      *redeemEnv
	apiKeys  map[string]string
	stopOnce func()
}

func newRestartable(t *testing.T) *restartable {
	s := &restartable{t: t, dir: t.TempDir(), clk: clock.NewFake(ledgertest.Start), apiKeys: map[string]string{}}
	s.start(true)
	t.Cleanup(func() { s.stop() })
	return s
}

// start opens the store, keys, ledger and API on the data directory
// (first: bootstraps them) and serves the real router.
func (s *restartable) start(first bool) {
	t := s.t
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := store.Open(store.Options{Dir: s.dir + "/db", Profile: store.ProfileSmall, Clock: s.clk, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ks, err := keys.Open(s.dir+"/keys", s.clk)
	if err != nil {
		t.Fatal(err)
	}
	if first {
		if _, err := ks.Rotate(); err != nil {
			t.Fatal(err)
		}
	}
	lg, err := ledger.New(ledger.Options{DB: db, Clock: s.clk, Keys: ks, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if first {
		if _, _, s.apiKeys["root"], err = lg.Bootstrap(context.Background(), "Vendor", "ops@vendor.test"); err != nil {
			t.Fatal(err)
		}
	}
	a := New(Options{Ledger: lg, Clock: s.clk, Logger: log})
	srv := httptest.NewServer(a.Handler())
	s.env = &redeemEnv{apiEnv: &apiEnv{t: t, srv: srv, api: a, lg: lg, clk: s.clk, ks: ks, key: s.apiKeys}, api: a}
	s.stopOnce = func() {
		srv.Close()
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	}
}

func (s *restartable) stop() {
	if s.stopOnce != nil {
		s.stopOnce()
		s.stopOnce = nil
	}
}

func (s *restartable) restart() {
	s.stop()
	s.start(false)
}

// TestRedeemLockoutSurvivesRestart is the guessing attack across a
// restart: an address that used up its failures is still locked out by
// a server started again on the same data, even with the right serial,
// until the window ends.
func TestRedeemLockoutSurvivesRestart(t *testing.T) {
	s := newRestartable(t)
	e := s.env
	e.world()
	l := e.spare()
	for i := range MaxRedeemFailures {
		_, text := e.redeemRequest("dev-9", "sensor-b", "dev-9", fmt.Sprintf("TG-0000-%04d", i))
		if status, raw := e.postRedeem(text); status != http.StatusNotFound {
			t.Fatalf("guess %d: %d %s", i, status, raw)
		}
		s.clk.Advance(RedeemRatePeriod / RedeemRate) // stay under the rate
	}
	s.restart()
	e = s.env
	_, text := e.redeemRequest("dev-9", "sensor-b", "dev-9", l.Serial)
	if status, raw := e.postRedeem(text); status != http.StatusTooManyRequests || errCode(raw) != "too_many_failures" {
		t.Fatalf("after %d failures and a restart: %d %s, want 429 too_many_failures", MaxRedeemFailures, status, raw)
	}
	s.clk.Advance(RedeemFailureWindow)
	e.redeemOK("dev-9", "sensor-b", "dev-9", l.Serial)
}

// TestRedeemSerialPauseSurvivesRestart: serial redemption paused by
// failures from many addresses stays paused after a restart.
func TestRedeemSerialPauseSurvivesRestart(t *testing.T) {
	s := newRestartable(t)
	e := s.env
	e.world()
	l := e.spare()
	for i := range MaxSerialFailures {
		if err := e.lg.RecordRedeemFailure(context.Background(), fmt.Sprintf("198.51.%d.%d", i/256, i%256), true); err != nil {
			t.Fatal(err)
		}
	}
	s.restart()
	e = s.env
	_, text := e.redeemRequest("dev-9", "sensor-b", "dev-9", l.Serial)
	if status, raw := e.postRedeem(text); status != http.StatusTooManyRequests || errCode(raw) != "too_many_failures" {
		t.Fatalf("serial redemption after a restart: %d %s, want 429 too_many_failures", status, raw)
	}
}
