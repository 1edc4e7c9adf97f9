package syncer

import (
	"context"
	"testing"

	"github.com/tollgate-iot/tollgate/shared/syncproto"
)

// ackAllWithChildren acknowledges everything a report carries, the
// children's records per child.
func ackAllWithChildren(r *syncproto.Report) (int, string, *syncproto.Response) {
	code, body, resp := ackAll(r)
	resp.AckedSeq = 0
	last := map[string]int64{}
	var order []string
	for _, d := range r.Deductions {
		if d.DeviceID == "" {
			resp.AckedSeq = d.Seq
			continue
		}
		if _, ok := last[d.DeviceID]; !ok {
			order = append(order, d.DeviceID)
		}
		last[d.DeviceID] = d.Seq
	}
	for _, dev := range order {
		resp.Children = append(resp.Children, syncproto.ChildAck{DeviceID: dev, AckedSeq: last[dev], Missing: []syncproto.SeqRange{}})
	}
	return code, body, resp
}

// TestSyncCarriesChildDeductionsAndWallClock: a gateway's report carries
// its children's own deduction records above what the server acknowledged
// for each, after its own, and its wall clock; an acknowledged child's
// records are not sent again.
func TestSyncCarriesChildDeductionsAndWallClock(t *testing.T) {
	h := newHarness(t)
	h.client.o.Devices = []string{"gw-1", "child-2", "child-1"}
	h.client.o.Wall = func() int64 { return t0 - 5 }
	h.fake.answer = ackAllWithChildren
	putDeductions(t, h.st, "gw-1", 1, 2)
	putDeductions(t, h.st, "child-1", 1, 3)
	putDeductions(t, h.st, "child-2", 1, 1)
	res, err := h.client.Sync(context.Background())
	if err != nil || res.Reports != 1 || res.Deductions != 6 {
		t.Fatalf("sync %+v, %v", res, err)
	}
	r := h.fake.reports[0]
	got := []string{}
	for _, d := range r.Deductions {
		got = append(got, d.DeviceID+"#"+string(rune('0'+d.Seq)))
	}
	if want := "[#1 #2 child-1#1 child-1#2 child-1#3 child-2#1]"; sprint(got) != want {
		t.Fatalf("deductions %s, want %s", sprint(got), want)
	}
	if r.SentWall != t0-5 || r.SentAt != t0 {
		t.Fatalf("sent_at %d sent_wall %d", r.SentAt, r.SentWall)
	}
	acked, err := h.st.ChildAcked([]string{"child-1", "child-2"})
	if err != nil || acked["child-1"] != 3 || acked["child-2"] != 1 {
		t.Fatalf("child acks %v %v", acked, err)
	}
	putDeductions(t, h.st, "child-1", 4, 1)
	if res, err = h.client.Sync(context.Background()); err != nil || res.Deductions != 1 {
		t.Fatalf("second sync %+v, %v", res, err)
	}
	if d := h.fake.reports[1].Deductions; len(d) != 1 || d[0].DeviceID != "child-1" || d[0].Seq != 4 {
		t.Fatalf("second report %+v", d)
	}
}

// TestSyncChildAckNeverMovesBack: an answer acknowledging less of a child
// than held, or a child the report did not carry, moves nothing back.
func TestSyncChildAckNeverMovesBack(t *testing.T) {
	h := newHarness(t)
	h.client.o.Devices = []string{"gw-1", "child-1"}
	putDeductions(t, h.st, "child-1", 1, 3)
	h.fake.answer = ackAllWithChildren
	if _, err := h.client.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.fake.answer = func(r *syncproto.Report) (int, string, *syncproto.Response) {
		code, body, resp := ackAll(r)
		resp.Children = []syncproto.ChildAck{{DeviceID: "child-1", AckedSeq: 1, Missing: []syncproto.SeqRange{}},
			{DeviceID: "child-9", AckedSeq: 7, Missing: []syncproto.SeqRange{}}}
		return code, body, resp
	}
	putDeductions(t, h.st, "child-1", 4, 1)
	if _, err := h.client.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	acked, err := h.st.ChildAcked([]string{"child-1", "child-9"})
	if err != nil || acked["child-1"] != 3 || acked["child-9"] != 0 {
		t.Fatalf("child acks %v %v", acked, err)
	}
}

func sprint(v []string) string {
	out := "["
	for i, s := range v {
		if i > 0 {
			out += " "
		}
		out += s
	}
	return out + "]"
}
