package gate

import (
	"sync"
	"sync/atomic"

	"github.com/tollgate-iot/tollgate/agent/internal/limits"
	"github.com/tollgate-iot/tollgate/agent/internal/store"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// Spec names a device the gate enforces for: the agent's own device or a
// child device of a gateway.
type Spec struct {
	ID    string
	Model string
	// KeyFingerprint is token.Fingerprint of the device's Ed25519 key.
	KeyFingerprint string
}

// License is one verified license token held for a device, with the local
// day-accounting state that goes with it.
type License struct {
	Tok  *token.License
	Text string
	// charged counts local deductions above Tok.DaysThroughSeq; paidFrom
	// and paidUntil are the start and end of the last bought day (Unix
	// ns). Guarded by Device.mu.
	charged             int64
	paidFrom, paidUntil int64
}

// Available returns the days still pre-authorized (day licenses); the
// caller holds the device's mutex (the gate) or uses Device.Days.
func (l *License) Available() int64 { return l.Tok.Days - l.charged }

// Days returns, under the device's mutex, a license's days still
// pre-authorized and the end of its last bought day (Unix ns).
func (d *Device) Days(l *License) (available, paidUntil int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return l.Available(), l.paidUntil
}

type slot struct {
	hour     int64
	accepted int64
	overage  int64
	// refused counts the hour's refused samples; refusedSaved is how many
	// of them the store holds (RefusedPending, RefusedSaved).
	refused, refusedSaved int64
}

// Device is the gate's per-device state. Its mutex is taken once per
// decision; samples of different devices never contend.
type Device struct {
	Spec
	lics      atomic.Pointer[[]*License]
	selfBlack atomic.Bool
	// SampleSeq is the last sample sequence assigned; only the committer
	// touches it.
	SampleSeq atomic.Int64

	mu     sync.Mutex
	ring   [limits.BudgetHours]slot
	totals store.Bucket
	dedSeq int64
	// failedDays counts the device's failed deduction records.
	failedDays int64
	blackWhy   string
	// pend counts, per hour, the refusals by reason the store does not
	// hold yet (RefusedPending, RefusedSaved). The counter flush empties
	// it every second, so it holds the current hour and rarely another;
	// its capacity is kept, so counting allocates nothing once it has
	// been used. At most limits.PendingReasonHours hours: the oldest goes
	// first.
	pend []pendingHour
}

// pendingHour is one hour's refusals by reason not saved yet.
type pendingHour struct {
	hour int64
	n    [NumReasons]int64
}

func newDevice(s Spec) *Device {
	d := &Device{Spec: s}
	empty := []*License{}
	d.lics.Store(&empty)
	return d
}

// Licenses returns the device's licenses in charging order.
func (d *Device) Licenses() []*License { return *d.lics.Load() }

// SelfBlacklisted reports whether the device blacklisted itself, and why.
func (d *Device) SelfBlacklisted() (bool, string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.selfBlack.Load(), d.blackWhy
}

// used sums accepted samples in the rolling window ending at hour. d.mu held.
func (d *Device) used(hour int64) int64 {
	var n int64
	for k := int64(0); k < limits.BudgetWindowHours; k++ {
		h := hour - k
		s := &d.ring[mod(h)]
		if s.hour == h {
			n += s.accepted
		}
	}
	return n
}

// count adds one accepted sample to hour's bucket. d.mu held.
func (d *Device) count(hour int64, overage bool) {
	s := &d.ring[mod(hour)]
	if s.hour != hour {
		*s = slot{hour: hour}
	}
	s.accepted++
	d.totals.Accepted++
	if overage {
		s.overage++
		d.totals.Overage++
	}
}

// refuse counts one refused sample in hour's bucket, and by its reason.
// d.mu held.
func (d *Device) refuse(hour int64, r Reason) {
	s := &d.ring[mod(hour)]
	if s.hour != hour {
		*s = slot{hour: hour}
	}
	s.refused++
	if n := len(d.pend); n > 0 && d.pend[n-1].hour == hour {
		d.pend[n-1].n[r]++ // the common case: the hour being counted
		return
	}
	d.refuseSlow(hour, r)
}

// refuseSlow counts a refusal of an hour that is not the last pending
// one. d.mu held.
func (d *Device) refuseSlow(hour int64, r Reason) {
	for i := range d.pend {
		if d.pend[i].hour == hour {
			d.pend[i].n[r]++
			return
		}
	}
	if len(d.pend) == limits.PendingReasonHours {
		d.pend = append(d.pend[:0], d.pend[1:]...)
	}
	d.pend = append(d.pend, pendingHour{hour: hour})
	d.pend[len(d.pend)-1].n[r]++
}

// RefusedHour is a count of refused samples of one hour (Unix hours).
type RefusedHour struct {
	Hour int64
	// Refused is the hour's count now; Saved is what the store holds of it.
	Refused, Saved int64
	// By counts the refusals by reason not saved yet (indexed by Reason).
	By [NumReasons]int64
}

// RefusedPending appends to dst the hours whose refused count grew since
// it was last saved (RefusedSaved), with their refusals by reason not
// saved yet.
func (d *Device) RefusedPending(dst []RefusedHour) []RefusedHour {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i := range d.ring {
		s := &d.ring[i]
		if s.refused <= s.refusedSaved {
			continue
		}
		h := RefusedHour{Hour: s.hour, Refused: s.refused, Saved: s.refusedSaved}
		for j := range d.pend {
			if d.pend[j].hour == s.hour {
				h.By = d.pend[j].n
			}
		}
		dst = append(dst, h)
	}
	return dst
}

// RefusedSaved records that the store now holds an hour's refused count
// up to r.Refused (unless the slot moved on to a newer hour since) and
// r.By of its reasons.
func (d *Device) RefusedSaved(r RefusedHour) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if s := &d.ring[mod(r.Hour)]; s.hour == r.Hour && s.refusedSaved < r.Refused {
		s.refusedSaved = r.Refused
	}
	keep := d.pend[:0]
	for _, p := range d.pend {
		if p.hour == r.Hour {
			left := false
			for k := range p.n {
				p.n[k] = max(p.n[k]-r.By[k], 0)
				left = left || p.n[k] > 0
			}
			if !left {
				continue
			}
		}
		if s := &d.ring[mod(p.hour)]; s.hour != p.hour {
			continue // the slot moved on: its unsaved refusals are gone
		}
		keep = append(keep, p)
	}
	d.pend = keep
}

// Bucket returns the counts of one hour and the lifetime totals, for
// persisting alongside the samples they count.
func (d *Device) Bucket(hour int64) (b, totals store.Bucket) {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := &d.ring[mod(hour)]
	if s.hour == hour {
		b = store.Bucket{Accepted: s.accepted, Overage: s.overage}
	}
	return b, d.totals
}

// Usage returns the samples accepted in the 24 hours ending at hour and the
// lifetime totals.
func (d *Device) Usage(hour int64) (used24h int64, totals store.Bucket) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.used(hour), d.totals
}

// Hours returns the non-empty buckets of the last limits.BudgetHours hours
// up to hour.
func (d *Device) Hours(hour int64) map[int64]store.Bucket {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[int64]store.Bucket{}
	for _, s := range d.ring {
		if s.accepted > 0 && s.hour > hour-limits.BudgetHours && s.hour <= hour {
			out[s.hour] = store.Bucket{Accepted: s.accepted, Overage: s.overage}
		}
	}
	return out
}

func mod(h int64) int64 {
	m := h % limits.BudgetHours
	if m < 0 {
		m += limits.BudgetHours
	}
	return m
}
