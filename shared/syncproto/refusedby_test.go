package syncproto

import (
	"errors"
	"strings"
	"testing"

	"github.com/tollgate-iot/tollgate/shared/limits"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// TestHourlyCountRefusedByStrict: refused_by names only reasons of the
// closed set, each with a positive count, at most MaxRefusedByReasons of
// them, adding up to no more than refused; each breach has its own error,
// and every one is a kind of ErrInvalid. A count without the map (an older
// agent) stays valid.
func TestHourlyCountRefusedByStrict(t *testing.T) {
	tests := []struct {
		name string
		by   map[string]int64
		want error
	}{
		{"ok/none", nil, nil},
		{"ok/sum-equals-refused", map[string]int64{wire.ReasonOverBudget: 7, wire.ReasonNoDays: 3}, nil},
		{"ok/sum-below-refused", map[string]int64{wire.ReasonExpired: 1}, nil},
		{"error/unknown-reason", map[string]int64{"too_loud": 1}, ErrUnknownReason},
		{"error/ok-is-no-refusal", map[string]int64{"ok": 1}, ErrUnknownReason},
		{"error/negative", map[string]int64{wire.ReasonOverBudget: -1}, ErrBadReasonCount},
		{"error/zero", map[string]int64{wire.ReasonOverBudget: 0}, ErrBadReasonCount},
		{"error/past-an-hour", map[string]int64{wire.ReasonOverBudget: limits.MaxCountPerHour + 1}, ErrBadReasonCount},
		{"error/sum-past-refused", map[string]int64{wire.ReasonOverBudget: 7, wire.ReasonNoDays: 4}, ErrReasonsPastRefused},
		{"error/too-many-keys", map[string]int64{wire.ReasonOverBudget: 1, wire.ReasonNoDays: 1, wire.ReasonExpired: 1, wire.ReasonRevoked: 1}, ErrTooManyReasons},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := report()
			r.Counts[0].Refused, r.Counts[0].RefusedBy = 10, tt.by
			err := r.Validate()
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Validate = %v", err)
				}
				return
			}
			if !errors.Is(err, tt.want) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("Validate = %v, want %v (and ErrInvalid)", err, tt.want)
			}
		})
	}
}

// TestHourlyCountMaxMerge: a merge keeps each field and each reason at
// its highest, and raises refused to the reasons' sum when the two counts
// split their refusals differently (15 + 4 > 16).
func TestHourlyCountMaxMerge(t *testing.T) {
	held := HourlyCount{DeviceID: "d", Hour: t0, Accepted: 100, Refused: 16, RefusedBy: map[string]int64{wire.ReasonOverBudget: 15}}
	lower := HourlyCount{DeviceID: "d", Hour: t0, Accepted: 90, Refused: 12, RefusedBy: map[string]int64{wire.ReasonOverBudget: 8, wire.ReasonNoDays: 4}}
	m := held.MaxMerge(&lower)
	want := HourlyCount{DeviceID: "d", Hour: t0, Accepted: 100, Refused: 19, RefusedBy: map[string]int64{wire.ReasonOverBudget: 15, wire.ReasonNoDays: 4}}
	if !m.Equal(&want) {
		t.Fatalf("merge = %+v, want %+v", m, want)
	}
	if !lower.Below(&held) || held.Below(&lower) == false || m.Below(&held) || m.Below(&lower) {
		t.Fatalf("Below: lower<held %v, held<lower %v, merged<held %v, merged<lower %v",
			lower.Below(&held), held.Below(&lower), m.Below(&held), m.Below(&lower))
	}
	if held.RefusedBy[wire.ReasonNoDays] != 0 || len(held.RefusedBy) != 1 {
		t.Fatalf("merge changed its receiver: %+v", held)
	}
	if n := want.RefusedWithoutReason(); n != 0 {
		t.Fatalf("without reason %d, want 0", n)
	}
	if n := (&HourlyCount{Refused: 5}).RefusedWithoutReason(); n != 5 {
		t.Fatalf("an older agent's refusals without reason: %d, want 5", n)
	}
}

// TestFullReportFitsSignedDocument: the largest report an agent may send —
// MaxSyncDeductions deductions and MaxSyncCounts counts at the bounds, each
// with MaxRefusedByReasons of the longest reasons — signs under
// MaxSignedDocumentBytes.
func TestFullReportFitsSignedDocument(t *testing.T) {
	r := report()
	r.Deductions = r.Deductions[:0]
	for i := range limits.MaxSyncDeductions {
		r.Deductions = append(r.Deductions, Deduction{Seq: int64(i + 1), LicenseID: licA, At: t0 + 99_999_999,
			PaidUntil: t0 + 99_999_999 + 86400, DaysBefore: limits.MaxPrepaidDays, DaysAfter: limits.MaxPrepaidDays - 1})
	}
	longest := append([]string(nil), wire.RefusalReasons[:]...)
	for i := range longest { // the longest names first
		for j := i + 1; j < len(longest); j++ {
			if len(longest[j]) > len(longest[i]) {
				longest[i], longest[j] = longest[j], longest[i]
			}
		}
	}
	n := int64(limits.MaxCountPerHour)
	by := map[string]int64{}
	for _, k := range longest[:limits.MaxRefusedByReasons] {
		by[k] = n / limits.MaxRefusedByReasons
	}
	dev := strings.Repeat("d", 64)
	r.Counts = r.Counts[:0]
	for i := range limits.MaxSyncCounts {
		r.Counts = append(r.Counts, HourlyCount{DeviceID: dev, Hour: t0 + int64(i)*3600, Accepted: n, Overage: n, Refused: n, RefusedBy: by})
	}
	text, err := SignRequest(signer(t, "gw-1"), r)
	if err != nil {
		t.Fatalf("the largest report does not sign: %v", err)
	}
	if len(text) > limits.MaxSignedDocumentBytes {
		t.Fatalf("the largest report is %d bytes, over %d", len(text), limits.MaxSignedDocumentBytes)
	}
	t.Logf("largest report: %d of %d bytes", len(text), limits.MaxSignedDocumentBytes)
}
