package runtime

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/agent/internal/config"
	"github.com/tollgate-iot/tollgate/agent/internal/testkit"
	"github.com/tollgate-iot/tollgate/shared/clock"
	"github.com/tollgate-iot/tollgate/shared/token"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// runWith runs an agent over data on a fake wall clock, submits one sample
// and returns its result.
func runWith(t *testing.T, cfg config.Config, wall clock.Clock) wire.Result {
	t.Helper()
	a, err := Open(context.Background(), cfg, Options{Clock: wall})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan struct{}), make(chan error, 1)
	go func() { done <- a.Run(ctx, func(Addrs) { close(ready) }) }()
	<-ready
	res, err := a.Submit(context.Background(), []wire.Sample{{Data: []byte(`{"x":1}`)}})
	cancel()
	if rerr := <-done; rerr != nil {
		t.Fatal(rerr)
	}
	if err != nil {
		t.Fatal(err)
	}
	return res[0]
}

func TestClockAcrossRestarts(t *testing.T) {
	cfg := config.Default()
	cfg.Data = filepath.Join(t.TempDir(), "data")
	cfg.Ingest = "127.0.0.1:0"
	id, err := Init(context.Background(), cfg, InitRequest{DeviceID: devID, Model: "TG-100", Trust: testkit.TrustBundle(t)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	a, err := Open(context.Background(), cfg, Options{Clock: clock.NewFake(testkit.Epoch)})
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := token.ParsePublicKey(id.PublicKey)
	_, text := testkit.License(t, devID, pub, func(l *token.License) {
		l.NotAfter = testkit.Epoch.Add(10 * 24 * time.Hour).Unix()
		l.IssuedAt = testkit.Epoch.Add(-48 * time.Hour).Unix()
	})
	if _, err := a.Activate([]string{text}); err != nil {
		t.Fatal(err)
	}
	a.Close()
	steps := []struct {
		name string
		wall time.Time
		want string // "" accepted, else the reason
	}{
		{"ok/now", testkit.Epoch, ""},
		{"ok/boot-at-1970-keeps-enforcing", time.Unix(30, 0), ""},
		{"error/clock_tamper/set-back-2-days", testkit.Epoch.Add(-48 * time.Hour), wire.ReasonClockTamper},
		{"ok/clock-put-right", testkit.Epoch.Add(time.Hour), ""},
		{"error/expired", testkit.Epoch.Add(11 * 24 * time.Hour), wire.ReasonExpired},
		{"error/expired/1970-boot-after-expiry", time.Unix(60, 0), wire.ReasonExpired},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			r := runWith(t, cfg, clock.NewFake(s.wall))
			if r.Accepted != (s.want == "") || r.Reason != s.want {
				t.Fatalf("result %+v, want reason %q", r, s.want)
			}
		})
	}
}
