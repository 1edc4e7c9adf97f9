package sdk_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/agent/internal/runtime"
	"github.com/tollgate-iot/tollgate/agent/internal/testkit"
	"github.com/tollgate-iot/tollgate/agent/sdk"
	"github.com/tollgate-iot/tollgate/shared/clock"
	"github.com/tollgate-iot/tollgate/shared/token"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

func TestEmbeddedAgentPublishes(t *testing.T) {
	nats := testkit.StartNATS(t, t.TempDir(), 0)
	cfg := sdk.DefaultConfig()
	cfg.Data = filepath.Join(t.TempDir(), "data")
	cfg.Broker = nats.URL
	cfg.Ingest = "127.0.0.1:0"
	id, err := runtime.Init(context.Background(), cfg, runtime.InitRequest{DeviceID: "fw-1", Model: "TG-100", Trust: testkit.TrustBundle(t)}, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := token.ParsePublicKey(id.PublicKey)
	fake := clock.NewFake(testkit.Epoch)
	_, text := testkit.License(t, "fw-1", pub, func(l *token.License) { l.MaxSamplesPerHour = 1 })
	a, err := runtime.Open(context.Background(), cfg, runtime.Options{Clock: fake})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Activate([]string{text}); err != nil {
		t.Fatal(err)
	}
	a.Close()

	ag, err := sdk.Start(context.Background(), cfg, sdk.Options{Clock: fake})
	if err != nil {
		t.Fatal(err)
	}
	defer ag.Close()
	samples := make([]sdk.Sample, 25)
	for i := range samples {
		samples[i] = sdk.Sample{Data: json.RawMessage(`{"i":1}`)}
	}
	res, err := ag.Submit(context.Background(), samples...)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res[:24] {
		if !r.Accepted || r.Seq != int64(i+1) {
			t.Fatalf("sample %d: %+v", i, r)
		}
	}
	if res[24].Reason != wire.ReasonOverBudget {
		t.Fatalf("25th sample: %+v, want over_budget", res[24])
	}
	if !nats.Sink.WaitUnique(24, 30*time.Second) {
		t.Fatal("embedded agent did not publish")
	}
	if st := ag.Status(); st.Budget.Used24h != 24 || st.Refused[wire.ReasonOverBudget] != 1 {
		t.Fatalf("status = %+v", st.Budget)
	}
}
