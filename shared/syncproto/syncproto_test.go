package syncproto

import (
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"

	"github.com/tollgate-iot/tollgate/shared/limits"
	"github.com/tollgate-iot/tollgate/shared/token"
)

const (
	licA = "0a000000-0000-4000-8000-000000000001"
	licB = "0b000000-0000-4000-8000-000000000002"
	t0   = int64(1796083200) // 2026-12-01T00:00:00Z
)

func signer(t testing.TB, name string) *token.Signer {
	t.Helper()
	seed := sha256.Sum256([]byte("syncproto test key: " + name))
	s, err := token.NewSigner(ed25519.NewKeyFromSeed(seed[:]))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func trustOf(t testing.TB, s *token.Signer) *token.Trust {
	t.Helper()
	tr, err := token.NewTrust(s.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func report() *Report {
	return &Report{
		DeviceID: "gw-1", Nonce: "AAAAAAAAAAAAAAAAAAAAAA", SentAt: t0 + 3*86400, RevocationSeq: 4,
		Tokens: []TokenVersion{{LicenseID: licA, Version: 3}, {LicenseID: licB, Version: 1}},
		Deductions: []Deduction{
			{Seq: 1, LicenseID: licA, At: t0, PaidUntil: t0 + 86400, DaysBefore: 3, DaysAfter: 2},
			{Seq: 2, LicenseID: licA, At: t0 + 86400, PaidUntil: t0 + 2*86400, DaysBefore: 2, DaysAfter: 1},
		},
		Counts: []HourlyCount{
			{DeviceID: "child-1", Hour: t0, Accepted: 60, Overage: 0, Refused: 3, RefusedBy: map[string]int64{"over_budget": 2, "no_days": 1}},
			{DeviceID: "child-1", Hour: t0 + 3600, Accepted: 55},
			{DeviceID: "gw-1", Hour: t0, Accepted: 10, Overage: 2},
		},
	}
}

func TestReportRoundTrip(t *testing.T) {
	dev := signer(t, "gw-1")
	for _, kind := range []token.Kind{token.KindSyncRequest, token.KindUsageReceipt} {
		sign := SignRequest
		if kind == token.KindUsageReceipt {
			sign = SignReceipt
		}
		text, err := sign(dev, report())
		if err != nil {
			t.Fatal(err)
		}
		id, err := PeekDevice(kind, text)
		if err != nil || id != "gw-1" {
			t.Fatalf("PeekDevice = %q, %v", id, err)
		}
		r, err := OpenReport(trustOf(t, dev), kind, text)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Deductions) != 2 || r.Counts[2].Overage != 2 || r.Tokens[0].Version != 3 {
			t.Fatalf("report %+v", r)
		}
	}
}

func TestReportRefusals(t *testing.T) {
	dev := signer(t, "gw-1")
	good, _ := SignRequest(dev, report())
	receipt, _ := SignReceipt(dev, report())
	other, _ := SignRequest(signer(t, "gw-2"), report())
	tests := []struct {
		name string
		kind token.Kind
		text string
		want error
	}{
		{"error/signed-by-another-device", token.KindSyncRequest, other, token.ErrUnknownKey},
		{"error/receipt-as-request", token.KindSyncRequest, receipt, token.ErrWrongKind},
		{"error/request-as-receipt", token.KindUsageReceipt, good, token.ErrWrongKind},
		{"error/not-a-report-kind", token.KindLicense, good, token.ErrWrongKind},
		{"error/truncated", token.KindSyncRequest, good[:len(good)-2], token.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := OpenReport(trustOf(t, dev), tt.kind, tt.text); !errors.Is(err, tt.want) {
				t.Fatalf("OpenReport = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestReportValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Report)
	}{
		{"error/duplicate-seq-in-one-batch", func(r *Report) { r.Deductions[1].Seq = 1 }},
		{"error/descending-seq", func(r *Report) { r.Deductions[0].Seq, r.Deductions[1].Seq = 2, 1 }},
		{"error/seq-0", func(r *Report) { r.Deductions[0].Seq = 0 }},
		{"error/two-days-in-one-deduction", func(r *Report) { r.Deductions[0].DaysAfter = 1 }},
		{"error/paid-until-before-at", func(r *Report) { r.Deductions[0].PaidUntil = r.Deductions[0].At - 1 }},
		{"error/failed-deduction-that-pays", func(r *Report) { r.Deductions[0].Failed = true }},
		{"error/failed-deduction-with-paid-time", func(r *Report) {
			d := &r.Deductions[0]
			d.Failed, d.DaysBefore, d.DaysAfter = true, 0, 0
		}},
		{"error/hour-not-aligned", func(r *Report) { r.Counts[0].Hour++ }},
		{"error/negative-count", func(r *Report) { r.Counts[0].Accepted = -1 }},
		{"error/overage-above-accepted", func(r *Report) { r.Counts[2].Overage = 11 }},
		{"error/accepted-past-an-hour", func(r *Report) { r.Counts[0].Accepted = limits.MaxCountPerHour + 1 }},
		{"error/refused-past-an-hour", func(r *Report) { r.Counts[0].Refused = 1 << 62 }},
		{"error/duplicate-hour", func(r *Report) { r.Counts[1].Hour = r.Counts[0].Hour }},
		{"error/bad-child-id", func(r *Report) { r.Counts[0].DeviceID = "child/1" }},
		{"error/bad-nonce", func(r *Report) { r.Nonce = "short" }},
		{"error/nonce-alphabet", func(r *Report) { r.Nonce = strings.Repeat("+", NonceLen) }},
		{"error/null-counts", func(r *Report) { r.Counts = nil }},
		{"error/unsorted-tokens", func(r *Report) { r.Tokens[0], r.Tokens[1] = r.Tokens[1], r.Tokens[0] }},
		{"error/too-many-deductions", func(r *Report) {
			r.Deductions = make([]Deduction, limits.MaxSyncDeductions+1)
			for i := range r.Deductions {
				r.Deductions[i] = Deduction{Seq: int64(i + 1), LicenseID: licA, At: t0, PaidUntil: t0, DaysBefore: 1}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := report()
			tt.mutate(r)
			if err := r.Validate(); !errors.Is(err, ErrInvalid) {
				t.Fatalf("Validate = %v, want ErrInvalid", err)
			}
			if _, err := SignRequest(signer(t, "gw-1"), r); err == nil {
				t.Fatal("an invalid report was signed")
			}
		})
	}
	if err := report().Validate(); err != nil {
		t.Fatalf("the good report is invalid: %v", err)
	}
	big := report()
	big.Counts[0].Accepted, big.Counts[0].Refused = limits.MaxCountPerHour, limits.MaxCountPerHour
	if err := big.Validate(); err != nil {
		t.Fatalf("counts at the bound are invalid: %v", err)
	}
	big.Counts[0].Accepted++
	if err := big.Validate(); !errors.Is(err, ErrImpossibleCount) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("Validate = %v, want ErrImpossibleCount and ErrInvalid", err)
	}
	r := report()
	d := &r.Deductions[len(r.Deductions)-1]
	d.Failed, d.DaysBefore, d.DaysAfter, d.PaidUntil = true, 0, 0, d.At
	if err := r.Validate(); err != nil {
		t.Fatalf("a failed deduction (days 0 → 0, paid_until = at) is invalid: %v", err)
	}
	dev := signer(t, "gw-1")
	text, err := SignRequest(dev, r)
	if err != nil {
		t.Fatal(err)
	}
	back, err := OpenReport(trustOf(t, dev), token.KindSyncRequest, text)
	if err != nil || !back.Deductions[len(back.Deductions)-1].Failed || back.Deductions[0].Failed {
		t.Fatalf("OpenReport = %+v, %v; want only the last deduction failed", back, err)
	}
}

func response() *Response {
	return &Response{
		DeviceID: "gw-1", Nonce: "AAAAAAAAAAAAAAAAAAAAAA", ServerTime: t0 + 3*86400, AckedSeq: 2,
		Missing: []SeqRange{{From: 4, To: 6}}, Tokens: []string{"tg1.lic.x"}, RevocationList: "tg1.rev.y",
	}
}

func TestResponse(t *testing.T) {
	srv := signer(t, "server")
	text, err := SignResponse(srv, response())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenResponse(trustOf(t, srv), "gw-1", "AAAAAAAAAAAAAAAAAAAAAA", text); err != nil {
		t.Fatal(err)
	}
	push := response()
	push.Nonce = ""
	pushText, _ := SignResponse(srv, push)
	tests := []struct {
		name, device, nonce, text string
		want                      error
	}{
		{"ok/push", "gw-1", "", pushText, nil},
		{"error/replayed-answer", "gw-1", "BBBBBBBBBBBBBBBBBBBBBB", text, ErrInvalid},
		{"error/push-as-answer", "gw-1", "AAAAAAAAAAAAAAAAAAAAAA", pushText, ErrInvalid},
		{"error/other-device", "gw-2", "AAAAAAAAAAAAAAAAAAAAAA", text, ErrInvalid},
		{"error/unknown-signer", "gw-1", "AAAAAAAAAAAAAAAAAAAAAA", mustSign(t, signer(t, "stranger"), response()), token.ErrUnknownKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := OpenResponse(trustOf(t, srv), tt.device, tt.nonce, tt.text)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("OpenResponse = %v, want %v", err, tt.want)
			}
		})
	}
	bad := response()
	bad.Missing = []SeqRange{{From: 2, To: 3}} // not above acked_seq
	if _, err := SignResponse(srv, bad); !errors.Is(err, ErrInvalid) {
		t.Fatalf("SignResponse(missing below acked) = %v", err)
	}
}

func mustSign(t *testing.T, s *token.Signer, r *Response) string {
	t.Helper()
	text, err := SignResponse(s, r)
	if err != nil {
		t.Fatal(err)
	}
	return text
}
