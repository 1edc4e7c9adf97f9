package ledger

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/store"
)

// guardKeys counts the guessing-bound keys in the store.
func (e *env) guardKeys() int {
	e.t.Helper()
	n := 0
	err := e.lg.db.View(func(x *store.Txn) error {
		for _, p := range [][]byte{store.GuessSourcePrefix(), store.GuessWindowPrefix()} {
			if err := x.Scan(p, nil, false, func(_, _ []byte) (bool, error) { n++; return true, nil }); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func TestRedeemFailuresCountPerSourceAndWindow(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for i := range 3 {
		if err := e.lg.RecordRedeemFailure(ctx, "192.0.2.7", i == 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.lg.RecordRedeemFailure(ctx, "2001:db8::/64", true); err != nil {
		t.Fatal(err)
	}
	f, err := e.lg.RedeemFailuresOf(ctx, "192.0.2.7")
	if err != nil {
		t.Fatal(err)
	}
	if f.Source != 3 || f.Serial != 2 || !f.End.After(e.clk.Now()) || f.End.Sub(e.clk.Now()) > RedeemFailureWindow {
		t.Fatalf("failures %+v at %s", f, e.clk.Now())
	}
	if f, _ := e.lg.RedeemFailuresOf(ctx, "2001:db8::/64"); f.Source != 1 {
		t.Fatalf("IPv6 source: %+v", f)
	}
	e.clk.Set(f.End)
	if f, _ := e.lg.RedeemFailuresOf(ctx, "192.0.2.7"); f.Source != 0 || f.Serial != 0 {
		t.Fatalf("next window: %+v", f)
	}
	if err := e.lg.RecordRedeemFailure(ctx, "", false); err == nil {
		t.Fatal("empty source counted")
	}
}

// TestRedeemFailuresExpireWithTheirWindow: the store keeps failures of the
// current window only; a failure in a new window deletes the past ones.
func TestRedeemFailuresExpireWithTheirWindow(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for i := range 50 {
		if err := e.lg.RecordRedeemFailure(ctx, fmt.Sprintf("198.51.100.%d", i), true); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.guardKeys(); n != 51 {
		t.Fatalf("%d keys, want 50 sources and a window total", n)
	}
	e.clk.Advance(RedeemFailureWindow)
	if err := e.lg.RecordRedeemFailure(ctx, "203.0.113.1", false); err != nil {
		t.Fatal(err)
	}
	if n := e.guardKeys(); n != 2 {
		t.Fatalf("%d keys after a new window, want 2", n)
	}
	if err := e.lg.ClearRedeemFailures(ctx); err != nil {
		t.Fatal(err)
	}
	if n := e.guardKeys(); n != 0 {
		t.Fatalf("%d keys after clearing", n)
	}
}

// TestRedeemFailuresTrackBoundedSources: a window that tracks
// MaxRedeemSources addresses counts a new address's serial failures only
// towards the pause, and stores nothing for it.
func TestRedeemFailuresTrackBoundedSources(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	w, _ := redeemWindow(e.clk.Now().UTC().Truncate(time.Second))
	err := e.lg.db.Update(func(x *store.Txn) error {
		return x.PutJSON(store.GuessWindowKey(w), &guessWindow{Sources: MaxRedeemSources})
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.lg.RecordRedeemFailure(ctx, "192.0.2.99", false); err != nil {
		t.Fatal(err)
	}
	if err := e.lg.RecordRedeemFailure(ctx, "192.0.2.99", true); err != nil {
		t.Fatal(err)
	}
	f, err := e.lg.RedeemFailuresOf(ctx, "192.0.2.99")
	if err != nil {
		t.Fatal(err)
	}
	if f.Source != 0 || f.Serial != 1 {
		t.Fatalf("untracked source: %+v, want 0 for it and 1 serial", f)
	}
	if n := e.guardKeys(); n != 1 {
		t.Fatalf("%d keys, want the window total only", n)
	}
}
