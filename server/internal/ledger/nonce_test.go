package ledger

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
)

// replica is a second ledger over the same store and keys: what another
// server process over the same PostgreSQL database is (its own write lock,
// group-commit queue and caches), and what the same badger store is to two
// ledgers in one process.
func (e *env) replica() *Ledger {
	e.t.Helper()
	lg, err := New(Options{DB: e.lg.db, Clock: e.clk, Keys: e.ks, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		e.t.Fatal(err)
	}
	return lg
}

func nonceN(i int) string { return fmt.Sprintf("nonce-%016d", i) }

func (e *env) syncState(id string) SyncState {
	e.t.Helper()
	var st SyncState
	err := e.lg.db.View(func(x *store.Txn) error { return x.GetJSON(store.SyncStateKey(id), &st) })
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}

// TestSyncReplayRefusedByAnotherReplica: the same signed sync sent to two
// replicas at once is applied by one and refused as a replay by the other
// — the nonce is claimed in the store, not in a process — and one day is
// charged. Sent again to either later, it is still a replay.
func TestSyncReplayRefusedByAnotherReplica(t *testing.T) {
	e := newEnv(t)
	ids, lics := e.syncFleet(1)
	a, b := e.lg, e.replica()
	at := e.clk.Now().Add(-time.Hour)
	r := batchReport(ids[0], lics[0], at, 1, 10)
	until := e.clk.Now().Add(10 * time.Minute)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, lg := range []*Ledger{a, b} {
		wg.Go(func() { _, errs[i] = lg.ReconcileSync(ctx, ids[0], r, until) })
	}
	wg.Wait()
	ok, replays := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, ErrReplay):
			replays++
		default:
			t.Fatalf("sync: %v", err)
		}
	}
	if ok != 1 || replays != 1 {
		t.Fatalf("%d applied, %d replays: want 1 and 1 (%v)", ok, replays, errs)
	}
	if got := e.get(lics[0]).AvailableDays; got != 29 {
		t.Fatalf("available days %d, want 29: one day charged", got)
	}
	for _, lg := range []*Ledger{a, b} {
		if _, err := lg.ReconcileSync(ctx, ids[0], r, until); !errors.Is(err, ErrReplay) {
			t.Fatalf("sent again: %v, want a replay", err)
		}
	}
}

// TestSyncReplayInOneGroupCommit: the same request twice in one group
// commit applies once; the second is refused as a replay and the other
// reports of the batch commit.
func TestSyncReplayInOneGroupCommit(t *testing.T) {
	e := newEnv(t)
	ids, lics := e.syncFleet(2)
	at := e.clk.Now().Add(-time.Hour)
	until := e.clk.Now().Add(10 * time.Minute).Unix()
	claimed := func(r *syncproto.Report) *syncJob { j := job(r); j.until = until; return j }
	r := batchReport(ids[0], lics[0], at, 1, 10)
	other := batchReport(ids[1], lics[1], at, 1, 5)
	other.Nonce = nonceN(1)
	batch := []*syncJob{claimed(r), claimed(r), claimed(other)}
	e.lg.commitSyncBatch(&batch, noMore)
	if batch[0].err != nil || batch[2].err != nil {
		t.Fatalf("errors %v, %v", batch[0].err, batch[2].err)
	}
	wantErr(t, batch[1].err, ErrReplay)
	if a, b := e.get(lics[0]).AvailableDays, e.get(lics[1]).AvailableDays; a != 29 || b != 29 {
		t.Fatalf("available days %d and %d, want 29 each", a, b)
	}
}

// TestSyncNonceForgottenAfterItsWindow: once the request's freshness window
// has closed its nonce is dropped from the device's state (the API refuses
// the request as stale by then); the ledger accepts the nonce again and the
// report, held already, charges nothing.
func TestSyncNonceForgottenAfterItsWindow(t *testing.T) {
	e := newEnv(t)
	ids, lics := e.syncFleet(1)
	at := e.clk.Now().Add(-time.Hour)
	r := batchReport(ids[0], lics[0], at, 1, 10)
	if _, err := e.lg.ReconcileSync(ctx, ids[0], r, e.clk.Now().Add(10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if st := e.syncState(ids[0]); len(st.Nonces) != 1 || st.Nonces[0].Nonce != r.Nonce {
		t.Fatalf("nonces held %+v", st.Nonces)
	}
	e.clk.Advance(10*time.Minute + time.Second)
	if _, err := e.lg.ReconcileSync(ctx, ids[0], r, e.clk.Now().Add(10*time.Minute)); err != nil {
		t.Fatalf("after the window: %v", err)
	}
	if st := e.syncState(ids[0]); len(st.Nonces) != 1 {
		t.Fatalf("expired nonce kept: %+v", st.Nonces)
	}
	if got := e.get(lics[0]).AvailableDays; got != 29 {
		t.Fatalf("available days %d, want 29", got)
	}
}

// TestRefusedSyncClaimsNoNonce: a report the ledger refuses writes nothing,
// its nonce included, so the agent's next, sound request may carry it.
func TestRefusedSyncClaimsNoNonce(t *testing.T) {
	e := newEnv(t)
	ids, lics := e.syncFleet(2)
	at := e.clk.Now().Add(-time.Hour)
	until := e.clk.Now().Add(10 * time.Minute)
	stolen := batchReport(ids[0], lics[1], at, 1, 10) // another device's license
	if _, err := e.lg.ReconcileSync(ctx, ids[0], stolen, until); !errors.Is(err, ErrNotThisDevice) {
		t.Fatalf("stolen license: %v", err)
	}
	if _, err := e.lg.ReconcileSync(ctx, ids[0], batchReport(ids[0], lics[0], at, 1, 10), until); err != nil {
		t.Fatalf("the nonce of a refused report: %v", err)
	}
}

// TestNoncesPerDeviceBounded: a device that sends more than
// MaxNoncesPerDevice requests within a window keeps the latest ones; the
// state stays small however fast it syncs.
func TestNoncesPerDeviceBounded(t *testing.T) {
	e := newEnv(t)
	ids, lics := e.syncFleet(1)
	at := e.clk.Now().Add(-time.Hour)
	until := e.clk.Now().Add(10 * time.Minute)
	for i := range MaxNoncesPerDevice + 6 {
		r := batchReport(ids[0], lics[0], at, 1, 10)
		r.Nonce = nonceN(i)
		if _, err := e.lg.ReconcileSync(ctx, ids[0], r, until); err != nil {
			t.Fatalf("sync %d: %v", i, err)
		}
	}
	st := e.syncState(ids[0])
	if len(st.Nonces) != MaxNoncesPerDevice || st.Nonces[0].Nonce != nonceN(6) {
		t.Fatalf("%d nonces from %q, want %d from %q", len(st.Nonces), st.Nonces[0].Nonce, MaxNoncesPerDevice, nonceN(6))
	}
	r := batchReport(ids[0], lics[0], at, 1, 10)
	r.Nonce = nonceN(MaxNoncesPerDevice + 5)
	if _, err := e.lg.ReconcileSync(ctx, ids[0], r, until); !errors.Is(err, ErrReplay) {
		t.Fatalf("latest nonce again: %v, want a replay", err)
	}
}

// TestRedeemReplayRefusedByAnotherReplica: an online activation request
// redeemed on one replica is a replay on another; a refused redemption
// claims nothing.
func TestRedeemReplayRefusedByAnotherReplica(t *testing.T) {
	e := newEnv(t)
	dist, _, _, _ := e.tree()
	l := e.create(dist, std("acme"))
	req := activationRequest(newDeviceKey(t), "dev-1", "sensor-a")
	until := e.clk.Now().Add(10 * time.Minute)
	if _, err := e.lg.RedeemOnline(ctx, req, "ZZZZ-ZZZZ-ZZZZ-ZZZZ", "192.0.2.1", nonceN(0), until); err == nil {
		t.Fatal("unknown serial redeemed")
	}
	if _, err := e.lg.RedeemOnline(ctx, req, l.Serial, "192.0.2.1", nonceN(0), until); err != nil {
		t.Fatalf("the nonce of a refused redemption: %v", err)
	}
	if _, err := e.replica().RedeemOnline(ctx, req, l.Serial, "192.0.2.1", nonceN(0), until); !errors.Is(err, ErrReplay) {
		t.Fatalf("on another replica: %v, want a replay", err)
	}
}
