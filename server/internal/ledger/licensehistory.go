package ledger

import (
	"strings"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// The kinds of license history entry (docs/reports.md#license-history).
const (
	HistoryCreated  = "created"  // a new license; To is its owner
	HistorySeeded   = "seeded"   // the state found when history began (a license older than history)
	HistoryStatus   = "status"   // From → To are statuses
	HistoryBinding  = "binding"  // From → To are device ids ("" unbound)
	HistoryRenewal  = "renewal"  // a new term period, PeriodStart..PeriodEnd
	HistoryTopUp    = "top_up"   // DaysAdded days added
	HistoryOwner    = "owner"    // From → To are customers (sell, return, move, bind hand-off)
	HistoryRenew    = "renew"    // automatic renewal switched: From → To are "on"/"off"
	HistoryDaysGone = "days_out" // a day license deducted its last day; it expires at PaidUntil
)

// The kinds of actor a history entry names.
const (
	HistoryByUser   = "user"
	HistoryBySystem = "system"
	HistoryByDevice = "device"
)

// MaxRenewalsPerChange bounds the periods one catch-up renewal records
// (a scheduler that ran late by years); more is a corrupt license.
const MaxRenewalsPerChange = 1200

// HistoryEntry is one change of a license, written in the transaction of
// the change.
type HistoryEntry struct {
	Seq       int64     `json:"seq"`
	LicenseID string    `json:"license_id"`
	At        time.Time `json:"at"`
	Kind      string    `json:"kind"`
	// Action is the audit action of the change (license.suspend, ...);
	// empty for a seeded entry.
	Action string `json:"action"`
	// By is user, system or device; UserID the user (or "system",
	// "device:ID"), ActorOf the customer it acted for.
	By      string `json:"by"`
	UserID  string `json:"user_id"`
	ActorOf string `json:"actor_of"`
	From    string `json:"from,omitempty"`
	To      string `json:"to,omitempty"`
	// Related is the other license of a transfer.
	Related     string    `json:"related,omitempty"`
	PeriodStart time.Time `json:"period_start,omitzero"`
	PeriodEnd   time.Time `json:"period_end,omitzero"`
	DaysAdded   int64     `json:"days_added,omitempty"`
	// State is the license after the change, as far as its status and
	// owner go: what the report of a past day reads.
	State HistoryState `json:"state"`
}

// HistoryState is the part of a license its status at any instant derives
// from, plus its owner and device.
type HistoryState struct {
	CustomerID      string    `json:"customer_id"`
	Type            string    `json:"type"`
	Billing         string    `json:"billing"`
	DeviceID        string    `json:"device_id,omitempty"`
	ActivatedAt     time.Time `json:"activated_at,omitzero"`
	StartAtChildren int64     `json:"start_at_children,omitempty"`
	Suspended       bool      `json:"suspended,omitempty"`
	Revoked         bool      `json:"revoked,omitempty"`
	TransferredTo   string    `json:"transferred_to,omitempty"`
	AvailableDays   int64     `json:"available_days,omitempty"`
	PaidUntil       time.Time `json:"paid_until,omitzero"`
	Start           time.Time `json:"start,omitzero"`
	End             time.Time `json:"end,omitzero"`
	Renew           bool      `json:"renew,omitempty"`
	NoRenewFrom     time.Time `json:"no_renew_from,omitzero"`
}

func stateOf(l *License) HistoryState {
	return HistoryState{CustomerID: l.CustomerID, Type: l.Type, Billing: l.Billing, DeviceID: l.DeviceID,
		ActivatedAt: l.ActivatedAt, StartAtChildren: l.StartAtChildren, Suspended: l.Suspended, Revoked: l.Revoked,
		TransferredTo: l.TransferredTo, AvailableDays: l.AvailableDays, PaidUntil: l.PaidUntil, Start: l.Start, End: l.End,
		Renew: l.Renew, NoRenewFrom: l.NoRenewFrom}
}

// Status is the license's status at t had it stayed in this state.
func (s HistoryState) Status(t time.Time) Status {
	l := License{CustomerID: s.CustomerID, Type: s.Type, Billing: s.Billing, DeviceID: s.DeviceID, ActivatedAt: s.ActivatedAt,
		StartAtChildren: s.StartAtChildren, Suspended: s.Suspended, Revoked: s.Revoked, TransferredTo: s.TransferredTo,
		AvailableDays: s.AvailableDays, PaidUntil: s.PaidUntil, Start: s.Start, End: s.End, Renew: s.Renew, NoRenewFrom: s.NoRenewFrom}
	return l.Status(t)
}

// historyBuffer holds the entries of one transaction until commit: the
// actor is known only from the audit entry written after the change.
type historyBuffer struct {
	pending   []*HistoryEntry
	unclaimed map[string][]*HistoryEntry // by license id: entries no audit entry named yet
}

// recordHistory derives the history entries of one license write from its
// before-image (nil for a new license) and buffers them for commit.
func (o *op) recordHistory(before, l *License) error {
	add := func(e HistoryEntry) {
		e.LicenseID, e.At, e.State = l.ID, o.now, stateOf(l)
		o.hist.pending = append(o.hist.pending, &e)
		if o.hist.unclaimed == nil {
			o.hist.unclaimed = map[string][]*HistoryEntry{}
		}
		o.hist.unclaimed[l.ID] = append(o.hist.unclaimed[l.ID], &e)
	}
	if before == nil {
		e := HistoryEntry{Kind: HistoryCreated, To: l.CustomerID, Related: l.TransferredFrom}
		if l.TransferredFrom != "" {
			if old, err := o.license(l.TransferredFrom); err == nil {
				e.From = old.CustomerID
			}
		}
		add(e)
		return nil
	}
	if before.CustomerID != l.CustomerID {
		add(HistoryEntry{Kind: HistoryOwner, From: before.CustomerID, To: l.CustomerID})
	}
	if before.DeviceID != l.DeviceID {
		add(HistoryEntry{Kind: HistoryBinding, From: before.DeviceID, To: l.DeviceID})
	}
	if s0, s1 := before.Status(o.now), l.Status(o.now); s0 != s1 {
		add(HistoryEntry{Kind: HistoryStatus, From: string(s0), To: string(s1), Related: l.TransferredTo})
	} else if !before.ExpiryRecorded && l.ExpiryRecorded {
		// The term ended at End; the scheduler records it afterwards.
		add(HistoryEntry{Kind: HistoryStatus, From: string(before.Status(l.End.Add(-time.Second))), To: string(StatusExpired), PeriodEnd: l.End})
	}
	if before.Renew != l.Renew {
		add(HistoryEntry{Kind: HistoryRenew, From: onOff(before.Renew), To: onOff(l.Renew), PeriodEnd: l.NoRenewFrom})
	}
	if l.TotalDays > before.TotalDays {
		add(HistoryEntry{Kind: HistoryTopUp, DaysAdded: l.TotalDays - before.TotalDays})
	}
	if before.AvailableDays > 0 && l.AvailableDays <= 0 && l.Billing == token.BillingDays {
		add(HistoryEntry{Kind: HistoryDaysGone, PeriodEnd: l.PaidUntil})
	}
	for _, p := range renewals(before, l) {
		add(HistoryEntry{Kind: HistoryRenewal, PeriodStart: p[0], PeriodEnd: p[1]})
		if err := o.emitRenewal(l, p[0].Format(time.RFC3339), p[1].Format(time.RFC3339)); err != nil {
			return err
		}
	}
	return nil
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// renewals lists the periods a standard term license entered between
// before and l: every period from before's end up to l's (more than one
// when the scheduler ran late).
func renewals(before, l *License) [][2]time.Time {
	if l.Type != token.TypeStandard || l.Billing != token.BillingTerm || before.End.IsZero() ||
		!l.Start.After(before.Start) || l.Start.Before(before.End) {
		return nil
	}
	var out [][2]time.Time
	for s := before.End; !s.After(l.Start) && len(out) < MaxRenewalsPerChange; {
		e := l.End
		if s.Before(l.Start) {
			e = PeriodEnd(s, l.DurationMonths, l.Alignment)
		}
		out = append(out, [2]time.Time{s, e})
		if !e.After(s) {
			break
		}
		s = e
	}
	return out
}

// claimHistory gives the actor of an audit entry about a license to the
// buffered entries of that license that have none yet.
func (o *op) claimHistory(a Actor, action, objType, objID string) {
	if objType != "license" {
		return
	}
	for _, e := range o.hist.unclaimed[objID] {
		e.Action = action
		e.By, e.UserID, e.ActorOf = actorKind(a), a.UserID, a.CustomerID
	}
	delete(o.hist.unclaimed, objID)
}

func actorKind(a Actor) string {
	switch {
	case strings.HasPrefix(a.UserID, "device:"):
		return HistoryByDevice
	case a.system:
		return HistoryBySystem
	}
	return HistoryByUser
}

// flushHistory writes the buffered entries and their indexes, in the
// transaction of the change. An entry no audit entry claimed was made by
// the system.
func (o *op) flushHistory() error {
	for _, e := range o.hist.pending {
		if e.By == "" {
			e.By, e.UserID = HistoryBySystem, "system"
		}
		if err := o.writeHistory(e); err != nil {
			return err
		}
	}
	o.hist = historyBuffer{}
	return nil
}

// writeHistory stores one entry under its license, indexes a renewal
// under the owner and its ancestors, and records a new owner's chain as
// having held the license.
func (o *op) writeHistory(e *HistoryEntry) error {
	seq, err := o.x.NextSeq("history")
	if err != nil {
		return err
	}
	e.Seq = seq
	if err := o.x.PutJSON(store.LicenseHistoryKey(e.LicenseID, seq), e); err != nil {
		return err
	}
	owner := []string{e.State.CustomerID}
	switch e.Kind {
	case HistoryRenewal:
		start := e.PeriodStart.Unix()
		if err := o.indexUnder(owner, func(c string) []byte { return store.RenewalKey(c, start, e.LicenseID, seq) }); err != nil {
			return err
		}
	case HistoryCreated, HistorySeeded, HistoryOwner:
		return o.indexUnder(owner, func(c string) []byte { return store.OwnedKey(c, e.LicenseID) })
	}
	return nil
}
