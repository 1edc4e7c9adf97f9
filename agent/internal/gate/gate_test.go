package gate

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/agent/internal/effclock"
	"github.com/tollgate-iot/tollgate/agent/internal/store"
	"github.com/tollgate-iot/tollgate/agent/internal/testkit"
	"github.com/tollgate-iot/tollgate/shared/clock"
	"github.com/tollgate-iot/tollgate/shared/token"
)

const dev = "pump-1"

// fakeLedger is a Ledger whose behaviour each test sets.
type fakeLedger struct {
	deductions []store.Deduction
	black      []store.SelfBlacklist
	failAppend error
}

func (f *fakeLedger) AppendDeduction(d store.Deduction) error {
	if f.failAppend != nil {
		return f.failAppend
	}
	if n := len(f.deductions); n > 0 && d.Seq <= f.deductions[n-1].Seq {
		return store.ErrSeqOrder
	}
	f.deductions = append(f.deductions, d)
	return nil
}

func (f *fakeLedger) SelfBlacklist(_ string, r store.SelfBlacklist, failed store.Deduction) error {
	if err := f.AppendDeduction(failed); err != nil {
		return err
	}
	f.black = append(f.black, r)
	return nil
}

type fixture struct {
	clk    *clock.Fake
	eff    *effclock.Clock
	ledger *fakeLedger
	gate   *Gate
}

func spec() Spec {
	return Spec{ID: dev, Model: "TG-100", KeyFingerprint: token.Fingerprint(testkit.Pub(dev))}
}

func newFixture(t testing.TB, mods ...func(*token.License)) *fixture {
	t.Helper()
	f := &fixture{clk: clock.NewFake(testkit.Epoch), ledger: &fakeLedger{}}
	f.eff = effclock.New(f.clk, store.ClockState{}, time.Hour)
	f.gate = New(Options{Clock: f.eff, Ledger: f.ledger})
	var toks []Token
	for i, m := range mods {
		l, text := testkit.License(t, dev, testkit.Pub(dev), func(l *token.License) {
			l.LicenseID = l.LicenseID[:35] + string(rune('0'+i))
			if m != nil {
				m(l)
			}
		})
		toks = append(toks, Token{Lic: l, Text: text})
	}
	f.gate.Load([]Restore{{Spec: spec(), Tokens: toks}})
	return f
}

func dayLicense(days int64) func(*token.License) {
	return func(l *token.License) { l.Billing = token.BillingDays; l.Days = days }
}

func TestDecide(t *testing.T) {
	epoch := testkit.Epoch
	lid := "6f1c2a7e-0b3d-4e5f-8a9b-0c1d2e3f4a50"
	tests := []struct {
		name    string
		mods    []func(*token.License)
		setup   func(t *testing.T, f *fixture)
		device  string
		want    Reason
		overage bool
	}{
		{name: "ok", mods: []func(*token.License){nil}, want: OK},
		{name: "error/unknown_device", mods: []func(*token.License){nil}, device: "other", want: UnknownDevice},
		{name: "error/no_license", want: NoLicense},
		{name: "error/blacklisted", mods: []func(*token.License){nil}, want: Blacklisted,
			setup: func(t *testing.T, f *fixture) {
				r, _ := testkit.Revocation(t, 1, nil, nil, []string{dev})
				f.gate.SetRevocation(r)
			}},
		{name: "error/revoked", mods: []func(*token.License){nil}, want: Revoked,
			setup: func(t *testing.T, f *fixture) {
				r, _ := testkit.Revocation(t, 1, []string{lid}, nil, nil)
				f.gate.SetRevocation(r)
			}},
		{name: "error/suspended", mods: []func(*token.License){nil}, want: Suspended,
			setup: func(t *testing.T, f *fixture) {
				r, _ := testkit.Revocation(t, 1, nil, []string{lid}, nil)
				f.gate.SetRevocation(r)
			}},
		{name: "error/superseded", mods: []func(*token.License){nil}, want: Superseded,
			setup: func(t *testing.T, f *fixture) { f.gate.SetRevocation(superseding(t, token.SupersededEntry(lid, 2))) }},
		{name: "ok/current_version_not_superseded", mods: []func(*token.License){func(l *token.License) { l.Version = 2 }}, want: OK,
			setup: func(t *testing.T, f *fixture) { f.gate.SetRevocation(superseding(t, token.SupersededEntry(lid, 2))) }},
		{name: "error/expired", want: Expired, mods: []func(*token.License){func(l *token.License) {
			l.NotAfter = epoch.Add(-time.Hour).Unix()
		}}},
		{name: "error/not_yet_valid", want: NotYetValid, mods: []func(*token.License){func(l *token.License) {
			l.NotBefore = epoch.Add(time.Hour).Unix()
		}}},
		{name: "error/wrong_device/id", want: WrongDevice, mods: []func(*token.License){func(l *token.License) {
			l.DeviceID = "pump-2"
		}}, setup: func(t *testing.T, f *fixture) {
			// A token for another device filed under this one.
			l, text := testkit.License(t, "pump-2", testkit.Pub(dev), nil)
			d := f.gate.Lookup(dev)
			lics := []*License{{Tok: l, Text: text}}
			d.lics.Store(&lics)
		}},
		{name: "error/wrong_device/key", want: WrongDevice, mods: []func(*token.License){func(l *token.License) {
			l.DeviceKey = token.Fingerprint(testkit.Pub("someone else"))
		}}},
		{name: "error/model_mismatch", want: ModelMismatch, mods: []func(*token.License){func(l *token.License) {
			l.Models = []string{"XR-*"}
		}}},
		{name: "error/clock_tamper", mods: []func(*token.License){nil}, want: ClockTamper,
			setup: func(t *testing.T, f *fixture) {
				f.eff.Now()
				f.clk.Set(epoch.Add(-48 * time.Hour))
			}},
		{name: "error/stale_revocation_list", want: StaleRevocationList, mods: []func(*token.License){func(l *token.License) {
			l.MaxOfflineSeconds = 3600
			l.IssuedAt = epoch.Add(-2 * time.Hour).Unix()
		}}},
		{name: "ok/fresh_revocation_list", want: OK, mods: []func(*token.License){func(l *token.License) {
			l.MaxOfflineSeconds = 3600
			l.IssuedAt = epoch.Add(-2 * time.Hour).Unix()
		}}, setup: func(t *testing.T, f *fixture) {
			r, _ := testkit.Revocation(t, 1, nil, nil, nil)
			f.gate.SetRevocation(r)
		}},
		{name: "error/over_budget", want: OverBudget, mods: []func(*token.License){func(l *token.License) {
			l.MaxSamplesPerHour = 1
		}}, setup: func(t *testing.T, f *fixture) { decideN(t, f, 24, OK) }},
		{name: "ok/report_overage", want: OK, overage: true, mods: []func(*token.License){func(l *token.License) {
			l.MaxSamplesPerHour = 1
			l.Enforcement = token.EnforcementReport
		}}, setup: func(t *testing.T, f *fixture) { decideN(t, f, 24, OK) }},
		{name: "ok/day_deducted", want: OK, mods: []func(*token.License){dayLicense(3)}},
		{name: "error/no_days", want: NoDays, mods: []func(*token.License){dayLicense(0)}},
		{name: "error/storage_error", want: StorageError, mods: []func(*token.License){dayLicense(3)},
			setup: func(t *testing.T, f *fixture) { f.ledger.failAppend = errors.New("disk full") }},
		{name: "ok/second_license_pays", want: OK, mods: []func(*token.License){
			func(l *token.License) { l.NotAfter = epoch.Add(-time.Hour).Unix() }, nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.mods...)
			if tt.setup != nil {
				tt.setup(t, f)
			}
			id := dev
			if tt.device != "" {
				id = tt.device
			}
			before := f.gate.Refused()
			got := f.gate.DecideID(id)
			if got.Reason != tt.want || got.Overage != tt.overage {
				t.Fatalf("Decide = %v overage=%v, want %v overage=%v", got.Reason, got.Overage, tt.want, tt.overage)
			}
			after := f.gate.Refused()
			if tt.want != OK && after[tt.want] != before[tt.want]+1 {
				t.Fatalf("refusal %v counted %d→%d", tt.want, before[tt.want], after[tt.want])
			}
			// The device's hour counts it by its reason, for sync.
			if tt.want != OK && tt.want != UnknownDevice {
				p := f.gate.Lookup(dev).RefusedPending(nil)
				if len(p) != 1 || p[0].By[tt.want] != 1 || p[0].Refused != 1 || sumBy(&p[0]) != 1 {
					t.Fatalf("pending %+v, want one %v refusal", p, tt.want)
				}
			}
		})
	}
}

func sumBy(h *RefusedHour) (n int64) {
	for _, v := range h.By {
		n += v
	}
	return n
}

func decideN(t *testing.T, f *fixture, n int, want Reason) {
	t.Helper()
	for i := 0; i < n; i++ {
		if got := f.gate.DecideID(dev); got.Reason != want {
			t.Fatalf("sample %d: %v, want %v", i, got.Reason, want)
		}
	}
}

func TestDayDeductions(t *testing.T) {
	f := newFixture(t, dayLicense(2))
	decideN(t, f, 5, OK)
	if n := len(f.ledger.deductions); n != 1 {
		t.Fatalf("%d deductions after the first day's samples, want 1", n)
	}
	f.clk.Advance(23 * time.Hour)
	decideN(t, f, 1, OK)
	if n := len(f.ledger.deductions); n != 1 {
		t.Fatalf("deducted again within the paid day: %d", n)
	}
	f.clk.Advance(time.Hour)
	decideN(t, f, 1, OK)
	d := f.ledger.deductions
	if len(d) != 2 || d[1].Seq != 2 || d[1].DaysBefore != 1 || d[1].DaysAfter != 0 {
		t.Fatalf("deductions = %+v", d)
	}
	f.clk.Advance(25 * time.Hour)
	decideN(t, f, 1, NoDays)
	decideN(t, f, 1, Blacklisted)
	if len(f.ledger.black) != 1 || f.ledger.black[0].Reason != "no_days" {
		t.Fatalf("self-blacklist records = %+v", f.ledger.black)
	}
	// The failed day is a record of its own, next in sequence, charging
	// nothing: the server blacklists the device when it arrives.
	if d := f.ledger.deductions; len(d) != 3 || !d[2].Failed || d[2].Seq != 3 || d[2].DaysBefore != 0 || d[2].DaysAfter != 0 {
		t.Fatalf("deductions after self-blacklisting = %+v, want a failed record with seq 3", d)
	}
}

func TestDaysThroughSeq(t *testing.T) {
	f := newFixture(t, func(l *token.License) {
		l.Billing, l.Days, l.DaysThroughSeq = token.BillingDays, 1, 7
	})
	decideN(t, f, 1, OK)
	if d := f.ledger.deductions; len(d) != 1 || d[0].Seq != 8 {
		t.Fatalf("first deduction after days_through_seq 7 = %+v, want seq 8", d)
	}
}

func TestRestoreDoesNotDeductTwice(t *testing.T) {
	f := newFixture(t, dayLicense(5))
	decideN(t, f, 1, OK)
	d := f.gate.Lookup(dev)
	toks := []Token{{Lic: d.Licenses()[0].Tok, Text: d.Licenses()[0].Text}}
	// A restart: same tokens, the deduction records from the ledger.
	f.gate.Load([]Restore{{Spec: spec(), Tokens: toks, Deductions: f.ledger.deductions, DeductionSeq: 1}})
	f.clk.Advance(time.Hour)
	decideN(t, f, 1, OK)
	if n := len(f.ledger.deductions); n != 1 {
		t.Fatalf("%d deductions after restart within the paid day, want 1", n)
	}
	d = f.gate.Lookup(dev)
	if avail, _ := d.Days(d.Licenses()[0]); avail != 4 {
		t.Fatalf("available days after restart = %d, want 4", avail)
	}
}

func TestBudgetRollingWindow(t *testing.T) {
	f := newFixture(t, func(l *token.License) { l.MaxSamplesPerHour = 2 })
	// A machine running 8 hours a day may burst to 3x its hourly rate.
	for h := 0; h < 8; h++ {
		decideN(t, f, 6, OK)
		f.clk.Advance(time.Hour)
	}
	decideN(t, f, 1, OverBudget)
	// 24 hours after the first busy hour, its samples leave the window.
	f.clk.Advance(16 * time.Hour)
	decideN(t, f, 6, OK)
	decideN(t, f, 1, OverBudget)
	used, totals := f.gate.Lookup(dev).Usage(f.gate.Decide(f.gate.Lookup(dev)).Hour)
	if used != 48 || totals.Accepted != 54 {
		t.Fatalf("used %d total %d, want 48 and 54", used, totals.Accepted)
	}
}

func TestDecideAllocatesNothing(t *testing.T) {
	f := newFixture(t, func(l *token.License) { l.MaxSamplesPerHour = 0; l.Version = 3 })
	f.gate.SetRevocation(superseding(t, token.SupersededEntry("6f1c2a7e-0b3d-4e5f-8a9b-0c1d2e3f4a50", 2)))
	d := f.gate.Lookup(dev)
	if n := testing.AllocsPerRun(1000, func() { f.gate.Decide(d) }); n != 0 {
		t.Fatalf("Decide allocates %v times per sample", n)
	}
}

func BenchmarkGateDecision(b *testing.B) {
	now := clock.Real{}.Now()
	f := newFixture(b, func(l *token.License) {
		l.MaxSamplesPerHour = 0
		l.NotBefore, l.NotAfter = now.Add(-time.Hour).Unix(), now.Add(90*24*time.Hour).Unix()
		l.IssuedAt = now.Add(-time.Hour).Unix()
	})
	f.gate.clk = effclock.New(clock.Real{}, store.ClockState{}, time.Hour)
	r := &token.RevocationList{DeviceID: testkit.RevocationDevice, Seq: 1, IssuedAt: testkit.Epoch.Unix(), NextUpdate: testkit.Epoch.Add(time.Hour).Unix(),
		RevokedLicenses: []string{"0a000000-0000-4000-8000-000000000001"}, BlacklistedDevices: []string{"pump-0099"},
		SupersededLicenses: []string{token.SupersededEntry("6f1c2a7e-0b3d-4e5f-8a9b-0c1d2e3f4a59", 2)}}
	text, err := token.IssueRevocationList(testkit.Signer(b), r)
	if err != nil {
		b.Fatal(err)
	}
	rl, err := token.ParseRevocationList(testkit.Trust(b), text)
	if err != nil {
		b.Fatal(err)
	}
	f.gate.SetRevocation(rl)
	b.ReportAllocs()
	for b.Loop() {
		if r := f.gate.DecideID(dev).Reason; r != OK {
			b.Fatalf("refused: %v", r)
		}
	}
}

// superseding returns a signed revocation list voiding token versions.
func superseding(t *testing.T, entries ...string) *token.RevocationList {
	t.Helper()
	r := &token.RevocationList{DeviceID: testkit.RevocationDevice, Seq: 1, IssuedAt: testkit.Epoch.Unix(), NextUpdate: testkit.Epoch.Add(time.Hour).Unix(),
		SupersededLicenses: entries}
	text, err := token.IssueRevocationList(testkit.Signer(t), r)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := token.ParseRevocationList(testkit.Trust(t), text)
	if err != nil {
		t.Fatal(err)
	}
	return parsed
}

// BenchmarkGateDecisionParallel decides for 1,000 devices from all CPUs at
// once. Devices never share a lock; what this adds over the one-device
// benchmark is mostly cache misses on 1,000 devices' state.
func BenchmarkGateDecisionParallel(b *testing.B) {
	now := clock.Real{}.Now()
	g := New(Options{Clock: effclock.New(clock.Real{}, store.ClockState{}, time.Hour), Ledger: &fakeLedger{}})
	const n = 1000
	states := make([]Restore, n)
	ids := make([]string, n)
	for i := range states {
		ids[i] = fmt.Sprintf("dev-%04d", i)
		pub := testkit.Pub(ids[i])
		l, text := testkit.License(b, ids[i], pub, func(l *token.License) {
			l.MaxSamplesPerHour = 0
			l.NotBefore, l.NotAfter, l.IssuedAt = now.Add(-time.Hour).Unix(), now.Add(90*24*time.Hour).Unix(), now.Add(-time.Hour).Unix()
		})
		states[i] = Restore{Spec: Spec{ID: ids[i], Model: "TG-100", KeyFingerprint: token.Fingerprint(pub)}, Tokens: []Token{{Lic: l, Text: text}}}
	}
	g.Load(states)
	var next atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := int(next.Add(1)) * 7
		for pb.Next() {
			i++
			if r := g.DecideID(ids[i%n]).Reason; r != OK {
				b.Errorf("refused: %v", r)
				return
			}
		}
	})
}

// TestSetTokensDuringDecisionsChargesOnce replaces the licenses (as an
// activation or a sync answer does) while the first samples are decided:
// the day bought by the first deduction is never forgotten and charged
// again, whichever way the two interleave.
func TestSetTokensDuringDecisionsChargesOnce(t *testing.T) {
	for round := range 200 {
		if n := firstDayRace(t); n != 1 {
			t.Fatalf("round %d: %d deductions for one day", round, n)
		}
	}
}

func firstDayRace(t *testing.T) int {
	f := newFixture(t, dayLicense(5))
	d := f.gate.Lookup(dev)
	var toks []Token
	for _, l := range d.Licenses() {
		toks = append(toks, Token{Lic: l.Tok, Text: l.Text})
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		<-start
		for range 20 {
			if err := f.gate.SetTokens(dev, toks, func() ([]store.Deduction, error) {
				return slices.Clone(f.ledger.deductions), nil
			}); err != nil {
				t.Error(err)
			}
		}
	}()
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for range 10 {
				if r := f.gate.Decide(d).Reason; r != OK {
					t.Errorf("refused %s", r)
					return
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(f.ledger.deductions)
}
