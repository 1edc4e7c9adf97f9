package runtime

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tollgate-iot/tollgate/agent/internal/testkit"
	"github.com/tollgate-iot/tollgate/shared/clock"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// TestTokenPushOnControlTopic: the server pushes a signed sync answer with
// an empty nonce on the control topic; the running agent applies it as a
// sync answer (the newer token version replaces the held one at once),
// and refuses a push for another device, an answer that carries a nonce,
// one signed by an unknown key, and an older token version.
func TestTokenPushOnControlTopic(t *testing.T) {
	broker := testkit.StartNATS(t, t.TempDir(), 0)
	h := startAgent(t, broker.URL, nil, func(pub string) []string { return []string{license(t, pub, nil)} })
	nc, err := nats.Connect("", nats.InProcessServer(broker.Server))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	subject := "tollgate.v1.acme." + devID + ".control"
	_, rev := testkit.Revocation(t, 3, nil, nil, nil)
	push := func(device, nonce string, signer *token.Signer, version, maxRate int64) string {
		tok := license(t, h.pub, func(l *token.License) { l.Version, l.MaxSamplesPerHour = version, maxRate })
		text, err := syncproto.SignResponse(signer, &syncproto.Response{DeviceID: device, Nonce: nonce,
			ServerTime: clock.Real{}.Now().Unix(), Missing: []syncproto.SeqRange{}, Tokens: []string{tok}, RevocationList: rev})
		if err != nil {
			t.Fatal(err)
		}
		return text
	}
	stranger, err := token.NewSigner(testkit.Key("stranger"))
	if err != nil {
		t.Fatal(err)
	}
	refused := []string{
		push("other-device", "", testkit.Signer(t), 5, 500),
		push(devID, "AAAAAAAAAAAAAAAAAAAAAA", testkit.Signer(t), 5, 500),
		push(devID, "", stranger, 5, 500),
	}
	good := push(devID, "", testkit.Signer(t), 3, 300)
	var got int64
	for i := 0; i < 200 && got != 3; i++ {
		for _, p := range refused { // had one been taken, version 5 would show
			nc.Publish(subject, []byte(p))
		}
		nc.Publish(subject, []byte(good))
		nc.Flush()
		time.Sleep(20 * time.Millisecond)
		if st := h.agent.Status(); len(st.Licenses) == 1 {
			got = st.Licenses[0].Version
		}
	}
	st := h.agent.Status()
	if got != 3 || st.Licenses[0].MaxSamplesPerHour != 300 || st.Revocation == nil || st.Revocation.Seq != 3 {
		t.Fatalf("after the push: version %d, licenses %+v, list %+v", got, st.Licenses, st.Revocation)
	}
	// An older version pushed later is skipped: version 3 stays.
	nc.Publish(subject, []byte(push(devID, "", testkit.Signer(t), 2, 200)))
	nc.Flush()
	time.Sleep(200 * time.Millisecond)
	if st := h.agent.Status(); st.Licenses[0].Version != 3 || st.Licenses[0].MaxSamplesPerHour != 300 {
		t.Fatalf("an older pushed version replaced the newer: %+v", st.Licenses)
	}
}
