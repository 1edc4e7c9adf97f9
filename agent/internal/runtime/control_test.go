package runtime

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tollgate-iot/tollgate/agent/internal/testkit"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// TestRevocationPushedOnControlTopic: the server publishes a signed
// revocation list on the device's control topic; the running agent applies
// it at once and refuses the revoked license's samples.
func TestRevocationPushedOnControlTopic(t *testing.T) {
	broker := testkit.StartNATS(t, t.TempDir(), 0)
	h := startAgent(t, broker.URL, nil, func(pub string) []string { return []string{license(t, pub, nil)} })
	if res := post(t, h.addr, batch(1, devID)); !res.Results[0].Accepted {
		t.Fatalf("before the push: %+v", res.Results)
	}
	nc, err := nats.Connect("", nats.InProcessServer(broker.Server))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_, older := testkit.Revocation(t, 1, nil, nil, nil)
	_, rev := testkit.Revocation(t, 2, []string{"6f1c2a7e-0b3d-4e5f-8a9b-0c1d2e3f4a5b"}, nil, nil)
	// MQTT topic tollgate/v1/acme/pump-1/control is NATS subject
	// tollgate.v1.acme.pump-1.control.
	subject := "tollgate.v1.acme." + devID + ".control"
	if wire.ControlTopic("acme", devID) != "tollgate/v1/acme/"+devID+"/control" {
		t.Fatal("control topic scheme changed")
	}
	var reason string
	for i := 0; i < 200 && reason != wire.ReasonRevoked; i++ {
		nc.Publish(subject, []byte("not a document"))
		nc.Publish(subject, []byte(rev))
		nc.Publish(subject, []byte(older))
		nc.Flush()
		time.Sleep(50 * time.Millisecond)
		reason = post(t, h.addr, batch(1, devID)).Results[0].Reason
	}
	if reason != wire.ReasonRevoked {
		t.Fatalf("after the push the sample is refused %q, want revoked", reason)
	}
	st := h.agent.Status()
	if st.Revocation == nil || st.Revocation.Seq != 2 || st.Licenses[0].Status != wire.ReasonRevoked {
		t.Fatalf("status after the push: %+v %+v", st.Revocation, st.Licenses)
	}
}
