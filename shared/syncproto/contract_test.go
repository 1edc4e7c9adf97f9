package syncproto

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/tollgate-iot/tollgate/shared/token"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// gatewayReport is a gateway's report with its wall clock and its child's
// own deductions.
func gatewayReport() *Report {
	r := report()
	r.SentWall = t0 + 600
	r.Deductions = append(r.Deductions,
		Deduction{DeviceID: "child-1", Seq: 1, LicenseID: licB, At: t0, PaidUntil: t0 + 86400, DaysBefore: 5, DaysAfter: 4},
		Deduction{DeviceID: "child-1", Seq: 2, LicenseID: licB, At: t0 + 86400, PaidUntil: t0 + 2*86400, DaysBefore: 4, DaysAfter: 3},
		Deduction{DeviceID: "child-2", Seq: 1, LicenseID: licB, At: t0, PaidUntil: t0 + 86400, DaysBefore: 9, DaysAfter: 8})
	return r
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(want) != string(got)+"\n" {
		t.Fatalf("%s changed:\n got %s\nwant %s", name, got, want)
	}
}

// TestContractGolden pins the wire form of the report and the answer: a
// change to it is a change of the contract (docs/sync.md).
func TestContractGolden(t *testing.T) {
	p, err := token.EncodePayload(gatewayReport())
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "report.golden", p)
	resp := response()
	resp.Children = []ChildAck{{DeviceID: "child-1", AckedSeq: 2, Missing: []SeqRange{}}, {DeviceID: "child-2", AckedSeq: 0, Missing: []SeqRange{{From: 1, To: 1}}}}
	p, err = token.EncodePayload(resp)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "response.golden", p)
	// The forms of agents and servers older than sent_wall, device_id and
	// children: still canonical, still valid.
	for _, name := range []string{"report-v1.golden", "response-v1.golden"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		b = b[:len(b)-1]
		var v interface{ Validate() error } = &Report{}
		if name == "response-v1.golden" {
			v = &Response{}
		}
		if err := token.DecodePayload(b, v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := v.Validate(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
}

func TestReportChildDeductions(t *testing.T) {
	dev := signer(t, "gw-1")
	text, err := SignRequest(dev, gatewayReport())
	if err != nil {
		t.Fatal(err)
	}
	r, err := OpenReport(trustOf(t, dev), token.KindSyncRequest, text)
	if err != nil || r.Deductions[2].DeviceID != "child-1" || r.FreshAt() != t0+600 {
		t.Fatalf("OpenReport = %+v, %v", r, err)
	}
	if old := report(); old.FreshAt() != old.SentAt {
		t.Fatalf("a report without sent_wall is fresh at %d, want sent_at", old.FreshAt())
	}
	tests := []struct {
		name   string
		mutate func(*Report)
	}{
		{"error/child-before-own", func(r *Report) { r.Deductions[0], r.Deductions[2] = r.Deductions[2], r.Deductions[0] }},
		{"error/children-not-ascending", func(r *Report) { r.Deductions[3], r.Deductions[4] = r.Deductions[4], r.Deductions[3] }},
		{"error/duplicate-child-seq", func(r *Report) { r.Deductions[3].Seq = 1 }},
		{"error/reporter-named-as-child", func(r *Report) { r.Deductions[2].DeviceID = "gw-1" }},
		{"error/bad-child-device-id", func(r *Report) { r.Deductions[4].DeviceID = "child/2" }},
		{"error/negative-sent-wall", func(r *Report) { r.SentWall = -1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := gatewayReport()
			tt.mutate(r)
			if err := r.Validate(); !errors.Is(err, ErrInvalid) {
				t.Fatalf("Validate = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestResponseChildren(t *testing.T) {
	tests := []struct {
		name     string
		children []ChildAck
	}{
		{"error/not-ascending", []ChildAck{{DeviceID: "b", Missing: []SeqRange{}}, {DeviceID: "a", Missing: []SeqRange{}}}},
		{"error/reporter", []ChildAck{{DeviceID: "gw-1", Missing: []SeqRange{}}}},
		{"error/missing-below-acked", []ChildAck{{DeviceID: "a", AckedSeq: 3, Missing: []SeqRange{{From: 2, To: 2}}}}},
		{"error/null-missing", []ChildAck{{DeviceID: "a"}}},
		{"error/negative-acked", []ChildAck{{DeviceID: "a", AckedSeq: -1, Missing: []SeqRange{}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := response()
			r.Children = tt.children
			if err := r.Validate(); !errors.Is(err, ErrInvalid) {
				t.Fatalf("Validate = %v, want ErrInvalid", err)
			}
		})
	}
}
