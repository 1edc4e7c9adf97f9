package runtime

import (
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/agent/internal/config"
	"github.com/tollgate-iot/tollgate/agent/internal/testkit"
	"github.com/tollgate-iot/tollgate/shared/token"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

func TestBrokerOutage(t *testing.T) {
	const queueMax = 300
	jsDir := t.TempDir()
	broker := testkit.StartNATS(t, jsDir, 0)
	h := startAgent(t, broker.URL, func(c *config.Config) { c.QueueMax = queueMax }, func(pub string) []string {
		return []string{license(t, pub, func(l *token.License) { l.MaxSamplesPerHour = 0 })}
	})
	accepted := map[int64]bool{}
	send := func(n int) (acc, full int) {
		for _, r := range post(t, h.addr, batch(n, devID)).Results {
			switch {
			case r.Accepted:
				accepted[r.Seq] = true
				acc++
			case r.Reason == wire.ReasonQueueFull:
				full++
			default:
				t.Fatalf("refused %q", r.Reason)
			}
		}
		return acc, full
	}
	if acc, _ := send(100); acc != 100 || !broker.Sink.WaitUnique(100, 30*time.Second) {
		t.Fatalf("before the outage: %d accepted", acc)
	}
	// The subscriber can see a message before the agent has the PUBACK
	// for it: the queue is empty only once the agent recorded all of them.
	waitDepth(t, h, 0)
	first := broker.Sink
	broker.Stop()
	// While the broker is down samples queue up to the bound; the rest is
	// refused and counted.
	acc, full := 0, 0
	for i := 0; i < 8; i++ {
		a, f := send(100)
		acc, full = acc+a, full+f
	}
	if acc != queueMax || full != 800-queueMax {
		t.Fatalf("during the outage %d accepted and %d refused queue_full, want %d and %d", acc, full, queueMax, 800-queueMax)
	}
	st := h.agent.Status()
	if st.Queue.Dropped != int64(full) || st.Queue.Depth != queueMax {
		t.Fatalf("queue = %+v, want dropped %d depth %d", st.Queue, full, queueMax)
	}
	back := testkit.StartNATS(t, jsDir, broker.Port())
	if !back.Sink.WaitUnique(queueMax, 30*time.Second) {
		u, _, _, _ := back.Sink.Stats()
		t.Fatalf("after the outage %d of %d queued samples arrived", u, queueMax)
	}
	for seq := range accepted {
		if !first.Has(devID, seq) && !back.Sink.Has(devID, seq) {
			t.Fatalf("accepted seq %d was lost", seq)
		}
	}
	waitDepth(t, h, 0)
}

// waitDepth waits (at most 30 s) until the agent's queue depth is want.
func waitDepth(t *testing.T, h *harness, want int64) {
	t.Helper()
	for deadline := 600; h.agent.Status().Queue.Depth != want && deadline > 0; deadline-- {
		time.Sleep(50 * time.Millisecond)
	}
	if d := h.agent.Status().Queue.Depth; d != want {
		t.Fatalf("queue depth %d, want %d", d, want)
	}
}
