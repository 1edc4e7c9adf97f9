package upstream

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/agent/internal/testkit"
)

// TestOnConnectAfterEveryConnect: OnConnect runs on the first CONNECT and
// again on each reconnect to a real broker that went away and came back,
// after the control topic is subscribed (a push that arrives after the
// sync it triggers is heard).
func TestOnConnectAfterEveryConnect(t *testing.T) {
	jsDir := t.TempDir()
	broker := testkit.StartNATS(t, jsDir, 0)
	ob, _ := queued(t, 1)
	connects := make(chan bool, 8)
	var p *Publisher
	p = New(Options{Broker: broker.URL, ClientID: "pump-1", Username: "pump-1", Outbox: ob,
		Logger:       slog.New(slog.DiscardHandler),
		ControlTopic: func() string { return "tollgate/v1/acme/pump-1/control" },
		Control:      func([]byte) {},
		OnConnect:    func() { connects <- p.Connected() },
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); p.Run(ctx) }()
	defer func() { cancel(); <-done }()
	wait := func(what string) {
		t.Helper()
		select {
		case connected := <-connects:
			if !connected {
				t.Fatalf("%s: OnConnect ran before the session was up", what)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("%s: no OnConnect", what)
		}
	}
	wait("first connect")
	broker.Stop()
	testkit.StartNATS(t, jsDir, broker.Port())
	wait("reconnect")
	if p.Reconnects() < 1 {
		t.Fatalf("reconnects %d", p.Reconnects())
	}
}
