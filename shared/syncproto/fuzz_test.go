package syncproto

import (
	"testing"

	"github.com/tollgate-iot/tollgate/shared/limits"
	"github.com/tollgate-iot/tollgate/shared/token"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// FuzzReportPayload signs arbitrary payload bytes with the device key, so the
// fuzzer reaches the report's JSON and field checks: nothing panics, and
// whatever is accepted validates and re-signs to the same text.
func FuzzReportPayload(f *testing.F) {
	dev := signer(f, "gw-1")
	p, _ := token.EncodePayload(report())
	f.Add(p)
	p, _ = token.EncodePayload(gatewayReport()) // sent_wall and child deductions
	f.Add(p)
	f.Add([]byte(`{"device_id":"d","nonce":"AAAAAAAAAAAAAAAAAAAAAA","sent_at":1,"revocation_seq":0,"tokens":[],"deductions":[],"counts":[]}`))
	f.Add([]byte(`{"device_id":"d","nonce":"AAAAAAAAAAAAAAAAAAAAAA","sent_at":1,"revocation_seq":0,"tokens":[],"deductions":[],` +
		`"counts":[{"device_id":"d","hour":3600,"accepted":4611686018427387904,"overage":0,"refused":0}]}`))
	// refused_by: the closed set of reasons, its bounds and its sum.
	f.Add([]byte(`{"device_id":"d","nonce":"AAAAAAAAAAAAAAAAAAAAAA","sent_at":1,"revocation_seq":0,"tokens":[],"deductions":[],` +
		`"counts":[{"device_id":"d","hour":3600,"accepted":4,"overage":0,"refused":5,"refused_by":{"no_days":1,"over_budget":4}}]}`))
	f.Add([]byte(`{"device_id":"d","nonce":"AAAAAAAAAAAAAAAAAAAAAA","sent_at":1,"revocation_seq":0,"tokens":[],"deductions":[],` +
		`"counts":[{"device_id":"d","hour":3600,"accepted":4,"overage":0,"refused":5,"refused_by":{"loud":1,"over_budget":-4}}]}`))
	trust := trustOf(f, dev)
	f.Fuzz(func(t *testing.T, payload []byte) {
		text, err := dev.SignPayload(token.KindSyncRequest, payload)
		if err != nil {
			return
		}
		r, err := OpenReport(trust, token.KindSyncRequest, text)
		if err != nil {
			return
		}
		again, err := SignRequest(dev, r)
		if err != nil || again != text {
			t.Fatalf("accepted report does not re-sign to itself: %v", err)
		}
		for i := range r.Counts {
			c := &r.Counts[i]
			var sum int64
			for k, n := range c.RefusedBy {
				if !wire.IsRefusalReason(k) || n < 1 {
					t.Fatalf("accepted count %d has reason %q: %d", i, k, n)
				}
				sum += n
			}
			if sum > c.Refused || len(c.RefusedBy) > limits.MaxRefusedByReasons {
				t.Fatalf("accepted count %d breaks the refused_by bounds: %+v", i, c)
			}
		}
	})
}

// FuzzOpenResponse feeds arbitrary text to the answer parser.
func FuzzOpenResponse(f *testing.F) {
	srv := signer(f, "server")
	good, _ := SignResponse(srv, response())
	f.Add(good)
	withChildren := response()
	withChildren.Children = []ChildAck{{DeviceID: "child-1", AckedSeq: 2, Missing: []SeqRange{{From: 4, To: 4}}}}
	if text, err := SignResponse(srv, withChildren); err == nil {
		f.Add(text)
	}
	f.Add(good[:len(good)/2])
	trust := trustOf(f, srv)
	f.Fuzz(func(t *testing.T, text string) {
		r, err := OpenResponse(trust, "gw-1", "AAAAAAAAAAAAAAAAAAAAAA", text)
		if err != nil {
			return
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("accepted invalid answer: %v", err)
		}
	})
}
