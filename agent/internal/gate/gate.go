// Package gate decides, with no network and no disk write, whether one
// sample of one device may leave (docs/design.md#enforcement-on-the-agent). The checks run in the order the
// spec gives: blacklist; a license token that is this device's, unrevoked,
// unsuspended, in its window, with a fresh enough revocation list; a sane
// effective clock; paid time for day licenses (deducting a day when it runs
// out, durably, before the sample is accepted); the rolling 24-hour budget.
//
// Decide is the hot path: it reads immutable snapshots through atomic
// pointers, takes only the device's own mutex, counts refusals in atomics
// and allocates nothing. The only writes it ever causes are the rare day
// deduction and self-blacklisting, through the Ledger.
package gate

import (
	"cmp"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tollgate-iot/tollgate/agent/internal/effclock"
	"github.com/tollgate-iot/tollgate/agent/internal/limits"
	"github.com/tollgate-iot/tollgate/agent/internal/store"
	"github.com/tollgate-iot/tollgate/shared/ident"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// Ledger makes the gate's rare decisions durable.
type Ledger interface {
	// AppendDeduction stores a deduction record durably (fsynced).
	AppendDeduction(store.Deduction) error
	// SelfBlacklist records durably (fsynced), at once, that a device
	// blacklisted itself and the failed deduction record the server gets.
	SelfBlacklist(deviceID string, rec store.SelfBlacklist, failed store.Deduction) error
}

// Options configures a Gate.
type Options struct {
	Clock  *effclock.Clock
	Ledger Ledger
	Logger *slog.Logger
}

// Gate enforces the licenses of a set of devices. It is safe for
// concurrent use.
type Gate struct {
	clk     *effclock.Clock
	ledger  Ledger
	log     *slog.Logger
	devices atomic.Pointer[map[string]*Device]
	rev     atomic.Pointer[revState]
	refused [NumReasons]atomic.Int64
}

// Decision is the outcome for one sample.
type Decision struct {
	Reason  Reason
	Device  *Device
	License *License
	// Eff is the effective time of the decision, Unix ns; Hour its budget hour.
	Eff     int64
	Hour    int64
	Overage bool
}

// Accepted reports whether the sample may leave.
func (d *Decision) Accepted() bool { return d.Reason == OK }

// New returns a gate with no devices.
func New(o Options) *Gate {
	g := &Gate{clk: o.Clock, ledger: o.Ledger, log: o.Logger}
	if g.log == nil {
		g.log = slog.Default()
	}
	m := map[string]*Device{}
	g.devices.Store(&m)
	return g
}

// Token is a verified license token with its text.
type Token struct {
	Lic  *token.License
	Text string
}

// Restore is the persisted state of one device, loaded at start.
type Restore struct {
	Spec          Spec
	Tokens        []Token
	Deductions    []store.Deduction
	Buckets       map[int64]store.Bucket
	Totals        store.Bucket
	SelfBlacklist *store.SelfBlacklist
	SampleSeq     int64
	DeductionSeq  int64
	FailedDays    int64
}

// Load replaces the gate's devices with the restored ones.
func (g *Gate) Load(states []Restore) {
	m := make(map[string]*Device, len(states))
	for i := range states {
		st := &states[i]
		d := newDevice(st.Spec)
		d.dedSeq = st.DeductionSeq
		d.failedDays = st.FailedDays
		d.SampleSeq.Store(st.SampleSeq)
		d.totals = st.Totals
		for h, b := range st.Buckets {
			d.ring[mod(h)] = slot{hour: h, accepted: b.Accepted, overage: b.Overage}
		}
		if st.SelfBlacklist != nil {
			d.selfBlack.Store(true)
			d.blackWhy = st.SelfBlacklist.Reason
		}
		g.setTokens(d, st.Tokens, st.Deductions)
		m[d.ID] = d
	}
	g.devices.Store(&m)
}

// SetTokens replaces one device's licenses (after an activation or a sync),
// keeping its counters. deductions reads the device's records, to recount
// days; it runs under the device's mutex, which every deduction holds, so
// that no deduction falls between the read and the new licenses (its paid
// day would be forgotten and charged again).
func (g *Gate) SetTokens(deviceID string, toks []Token, deductions func() ([]store.Deduction, error)) error {
	d := g.Lookup(deviceID)
	if d == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	ded, err := deductions()
	if err != nil {
		return err
	}
	g.setTokens(d, toks, ded)
	return nil
}

// ClearSelfBlacklist lifts a device's own blacklisting (a newer token came).
func (g *Gate) ClearSelfBlacklist(deviceID string) {
	if d := g.Lookup(deviceID); d != nil {
		d.mu.Lock()
		d.selfBlack.Store(false)
		d.blackWhy = ""
		d.mu.Unlock()
	}
}

func (g *Gate) setTokens(d *Device, toks []Token, deductions []store.Deduction) {
	lics := make([]*License, 0, len(toks))
	for _, t := range toks {
		if t.Lic.DeviceID != d.ID {
			continue
		}
		l := &License{Tok: t.Lic, Text: t.Text}
		for _, rec := range deductions {
			if rec.Failed || rec.LicenseID != l.Tok.LicenseID {
				continue // a failed day charged nothing
			}
			if rec.Seq > l.Tok.DaysThroughSeq {
				l.charged++
			}
			if until := rec.PaidUntil * int64(time.Second); until > l.paidUntil {
				l.paidFrom, l.paidUntil = rec.At*int64(time.Second), until
			}
		}
		// The next local deduction must be numbered above what the server
		// already accounted, or it would not be charged against Days.
		d.dedSeq = max(d.dedSeq, l.Tok.DaysThroughSeq)
		if g.clk != nil {
			g.clk.ObserveServerTime(l.Tok.IssuedAt)
		}
		lics = append(lics, l)
	}
	// Charging order: earliest start first (docs/design.md#day-licenses: earliest activation).
	slices.SortFunc(lics, func(a, b *License) int {
		return cmp.Or(cmp.Compare(a.Tok.NotBefore, b.Tok.NotBefore), cmp.Compare(a.Tok.LicenseID, b.Tok.LicenseID))
	})
	if len(lics) > limits.MaxLicensesPerDevice {
		lics = lics[len(lics)-limits.MaxLicensesPerDevice:]
	}
	d.lics.Store(&lics)
}

// revState is the revocation list in force with its superseded token
// versions indexed by license, so that the hot path never builds a search
// key (token.RevocationList.MinVersion concatenates one).
type revState struct {
	list   *token.RevocationList
	minVer map[string]int64
}

// SetRevocation installs a newer revocation list.
func (g *Gate) SetRevocation(r *token.RevocationList) {
	if r == nil {
		g.rev.Store(nil)
		return
	}
	rs := &revState{list: r, minVer: make(map[string]int64, len(r.SupersededLicenses))}
	for _, e := range r.SupersededLicenses {
		id, _, _ := strings.Cut(e, ":")
		rs.minVer[id] = r.MinVersion(id)
	}
	g.rev.Store(rs)
	if g.clk != nil {
		g.clk.ObserveServerTime(r.IssuedAt)
	}
}

// Revocation returns the revocation list in force, or nil.
func (g *Gate) Revocation() *token.RevocationList {
	if rs := g.rev.Load(); rs != nil {
		return rs.list
	}
	return nil
}

// Lookup returns the device with the given id, or nil.
func (g *Gate) Lookup(id string) *Device { return (*g.devices.Load())[id] }

// Devices returns all devices, in no particular order.
func (g *Gate) Devices() []*Device {
	m := *g.devices.Load()
	out := make([]*Device, 0, len(m))
	for _, d := range m {
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b *Device) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// Refuse counts a refusal decided outside the gate (queue_full, …).
func (g *Gate) Refuse(r Reason) { g.refused[r].Add(1) }

// Refused returns the refusal counts since start, by reason.
func (g *Gate) Refused() (out [NumReasons]int64) {
	for i := range out {
		out[i] = g.refused[i].Load()
	}
	return out
}

// DecideID looks the device up and decides; an unknown device is refused.
func (g *Gate) DecideID(id string) Decision {
	d := g.Lookup(id)
	if d == nil {
		g.refused[UnknownDevice].Add(1)
		return Decision{Reason: UnknownDevice}
	}
	return g.Decide(d)
}

// usableLicenses checks each license of d; it returns the usable ones as a
// bit mask and the first refusal.
func usableLicenses(d *Device, lics []*License, rev *revState, effSec int64) (usable uint32, first Reason) {
	for i, l := range lics {
		r := checkLicense(d, l, rev, effSec)
		if r == OK {
			usable |= 1 << i
		} else if first == OK {
			first = r
		}
	}
	return usable, first
}

// Decide runs the checks of docs/design.md#enforcement-on-the-agent for one sample of d and, if it is
// accepted, counts it in d's budget.
func (g *Gate) Decide(d *Device) Decision {
	eff, tamper := g.clk.Now()
	dec := Decision{Device: d, Eff: eff, Hour: eff / int64(time.Hour)}
	dec.Reason = g.decide(d, &dec, tamper)
	if dec.Reason != OK {
		g.refused[dec.Reason].Add(1)
		d.mu.Lock() // the device's own mutex: refusals per device and hour
		d.refuse(dec.Hour, dec.Reason)
		d.mu.Unlock()
	}
	return dec
}

func (g *Gate) decide(d *Device, dec *Decision, tamper bool) Reason {
	rev := g.rev.Load()
	if d.selfBlack.Load() || (rev != nil && rev.list.DeviceBlacklisted(d.ID)) {
		return Blacklisted
	}
	ptr := d.lics.Load()
	if len(*ptr) == 0 {
		return NoLicense
	}
	effSec := dec.Eff / int64(time.Second)
	usable, first := usableLicenses(d, *ptr, rev, effSec)
	if usable == 0 {
		return first
	}
	if tamper {
		return ClockTamper
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.selfBlack.Load() {
		return Blacklisted
	}
	lics := *ptr
	if p := d.lics.Load(); p != ptr {
		// The licenses were replaced while this decision waited: pay with
		// the new ones, which hold the paid days (the old ones are gone).
		lics = *p
		if usable, first = usableLicenses(d, lics, rev, effSec); usable == 0 {
			return first
		}
	}
	l, r := g.payer(d, lics, usable, dec.Eff)
	if r != OK {
		return r
	}
	if l.paidFrom > dec.Eff {
		// Another decision of the device charged this day while this one
		// waited for the lock, at its own, later reading of the clock: the
		// sample is stamped at the day's start, not before it (between two
		// paid days, which no day would pay for).
		dec.Eff, dec.Hour = l.paidFrom, l.paidFrom/int64(time.Hour)
	}
	dec.License = l
	if limit := l.Tok.MaxSamplesPerHour * limits.BudgetWindowHours; limit > 0 && d.used(dec.Hour) >= limit {
		if l.Tok.Enforcement == token.EnforcementEnforce {
			return OverBudget
		}
		dec.Overage = true
	}
	d.count(dec.Hour, dec.Overage)
	return OK
}

// Check returns why l cannot pay for a sample of d at effSec (Unix
// seconds) under the revocation list in force, or OK: step 2 of docs/design.md#enforcement-on-the-agent for
// one token.
func (g *Gate) Check(d *Device, l *License, effSec int64) Reason {
	return checkLicense(d, l, g.rev.Load(), effSec)
}

func checkLicense(d *Device, l *License, rev *revState, effSec int64) Reason {
	t := l.Tok
	if t.DeviceID != d.ID || t.DeviceKey != d.KeyFingerprint {
		return WrongDevice
	}
	if !ident.ModelMatches(t.Models, d.Model) {
		return ModelMismatch
	}
	if rev != nil {
		if rev.list.LicenseRevoked(t.LicenseID) {
			return Revoked
		}
		if rev.list.LicenseSuspended(t.LicenseID) {
			return Suspended
		}
		if mv, ok := rev.minVer[t.LicenseID]; ok && t.Version < mv {
			// The server moved the license on (unbind, transfer, rebind):
			// this token version is void even though its window is open.
			return Superseded
		}
	}
	if effSec < t.NotBefore {
		return NotYetValid
	}
	if effSec >= t.NotAfter {
		return Expired
	}
	if t.MaxOfflineSeconds > 0 {
		// The last contact is the newest server-signed document held for
		// this license: its token or the revocation list.
		contact := t.IssuedAt
		if rev != nil {
			contact = max(contact, rev.list.IssuedAt)
		}
		if effSec >= contact+t.MaxOfflineSeconds {
			return StaleRevocationList
		}
	}
	return OK
}
