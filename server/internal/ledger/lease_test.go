package ledger

import (
	"testing"
	"time"
)

// TestSchedulerLeaseOneHolderAtATime: A takes the lease and renews it; B
// is refused while it runs; A dies (stops renewing): B has it once the
// TTL passed, and A is refused; B gives it up on shutdown: A takes it at
// once.
func TestSchedulerLeaseOneHolderAtATime(t *testing.T) {
	e := newEnv(t)
	take := func(holder string) bool {
		t.Helper()
		ok, err := e.lg.AcquireLease(ctx, holder, SchedulerLeaseTTL)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !take("replica-a") || take("replica-b") {
		t.Fatal("first taker")
	}
	e.clk.Advance(SchedulerLeaseTTL / 3)
	if !take("replica-a") || take("replica-b") {
		t.Fatal("renewal")
	}
	e.clk.Advance(SchedulerLeaseTTL - time.Second)
	if take("replica-b") {
		t.Fatal("B took a lease A renewed less than a TTL ago")
	}
	e.clk.Advance(2 * time.Second)
	if !take("replica-b") || take("replica-a") {
		t.Fatal("takeover after the TTL")
	}
	if err := e.lg.ReleaseLease(ctx, "replica-a"); err != nil || take("replica-a") {
		t.Fatalf("a non-holder released the lease: %v", err)
	}
	if err := e.lg.ReleaseLease(ctx, "replica-b"); err != nil || !take("replica-a") {
		t.Fatalf("release: %v", err)
	}
	if _, err := e.lg.AcquireLease(ctx, "", time.Second); err == nil {
		t.Fatal("a lease without a holder")
	}
}
