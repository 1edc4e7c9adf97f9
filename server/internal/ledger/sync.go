package ledger

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// SyncState is what the ledger keeps about a device's syncs (docs/sync.md).
type SyncState struct {
	LastSyncAt time.Time `json:"last_sync_at,omitzero"`
	Syncs      int64     `json:"syncs"`
	// AckedSeq is the highest deduction seq held with none missing below.
	AckedSeq int64 `json:"acked_seq"`
	// HighestSeq is the highest deduction seq held.
	HighestSeq int64 `json:"highest_seq"`
	Forks      int64 `json:"forks"`
	Overdrafts int64 `json:"overdrafts"`
	// CountsThrough bounds the hourly counts held for the device: none is
	// of a later hour (Unix seconds), so a report's newer hours are
	// written without looking each up. 0: not known (no count written
	// since the field exists); the first report finds it with one seek.
	CountsThrough int64 `json:"counts_through,omitempty"`
	// CountConflicts counts the hours in which a forked report counted
	// lower than held (kept at the held value, not refused), each once
	// while it is listed; ForkedHours are the latest MaxForkedHours such
	// hours (Unix seconds), ascending.
	CountConflicts int64   `json:"count_conflicts,omitempty"`
	ForkedHours    []int64 `json:"forked_hours,omitempty"`
	// ClockOffset is the device's clock less the server's at its last
	// online sync, in seconds (the report's sent_at less the time the
	// server received it); ClockCheckedAt is that sync's server time
	// (0: never checked). See DeviceClock.
	ClockOffset    int64 `json:"clock_offset,omitempty"`
	ClockCheckedAt int64 `json:"clock_checked_at,omitempty"`
	// Nonces are the nonces of the device's signed requests (syncs and
	// online activations) accepted and not yet expired (nonce.go): a
	// request whose nonce is here is a replay, refused by every replica.
	Nonces []SeenNonce `json:"nonces,omitempty"`
}

// MaxForkedHours bounds SyncState.ForkedHours.
const MaxForkedHours = 48

// addForkedHour notes a conflicting hour, keeping the latest
// MaxForkedHours distinct hours in ascending order. An hour listed already
// (the same fork reported again) changes nothing.
func (st *SyncState) addForkedHour(h int64) {
	i, found := slices.BinarySearch(st.ForkedHours, h)
	if found {
		return
	}
	st.CountConflicts++
	st.ForkedHours = slices.Insert(st.ForkedHours, i, h)
	if n := len(st.ForkedHours); n > MaxForkedHours {
		st.ForkedHours = slices.Delete(st.ForkedHours, 0, n-MaxForkedHours)
	}
}

// Fork is a reported deduction record whose seq the ledger already holds
// with other content: two agents with one identity, or a restored older
// state. It is recorded, never merged, and a day used a second time is
// charged a second time: Charge is that charge (nil for a forked failed
// record, which used no day), or the overdraft that blacklisted the device
// when nothing could pay.
type Fork struct {
	Seq      int64               `json:"seq"`
	At       time.Time           `json:"at"` // when the server saw it
	Held     syncproto.Deduction `json:"held"`
	Reported syncproto.Deduction `json:"reported"`
	Charge   *Deduction          `json:"charge,omitempty"`
}

// DevicePublicKey returns the registered public key of a device, to verify
// its signed reports. It needs no actor: the report's signature is the
// authentication.
func (lg *Ledger) DevicePublicKey(ctx context.Context, deviceID string) (ed25519.PublicKey, error) {
	text, err := lg.DeviceKeyText(ctx, deviceID)
	if err != nil {
		return nil, err
	}
	return token.ParsePublicKey(text)
}

// DeviceKeyText returns the registered public key of a device in its text
// form, unparsed: a caller that verifies many reports caches the parsed
// key by this text (parsing checks the point, which costs about as much
// as a signature check).
func (lg *Ledger) DeviceKeyText(ctx context.Context, deviceID string) (string, error) {
	var text string
	err := lg.readOnce(func(o *op) error {
		d, err := o.device(deviceID)
		if err == nil {
			text = d.PublicKey
		}
		return err
	})
	return text, err
}

// Reconcile applies a verified usage report of a device — an online sync
// request or an air-gap usage receipt — atomically: deductions once per
// (device, seq), a gateway's children's under their own device, forks and
// gaps recorded, overdrafts charged as failed deductions (the device is
// blacklisted, docs/design.md#day-licenses), hourly counts kept at their highest. Any refusal
// (ErrCounterWentDown, ErrNotThisDevice) applies nothing. Concurrent calls
// share one synced commit (group commit, syncbatch.go); each returns only
// once the commit holding its report is durable. The answer is unsigned
// and has no nonce: the caller echoes the request's and signs it
// (SignSyncResponse).
func (lg *Ledger) Reconcile(ctx context.Context, deviceID string, r *syncproto.Report) (*syncproto.Response, error) {
	return lg.reconcileJob(deviceID, r, 0)
}

// ReconcileSync is Reconcile for an online sync request: its nonce is
// claimed in the transaction that applies it, until the given time (the
// end of the request's freshness window), so that the same request sent
// again — to this replica or any other over the same store — is refused
// with ErrReplay and applies nothing. A request that is refused or fails
// claims nothing: the agent may send it again.
func (lg *Ledger) ReconcileSync(ctx context.Context, deviceID string, r *syncproto.Report, until time.Time) (*syncproto.Response, error) {
	if err := checkNonce(r.Nonce); err != nil {
		return nil, err
	}
	return lg.reconcileJob(deviceID, r, until.Unix())
}

func (lg *Ledger) reconcileJob(deviceID string, r *syncproto.Report, until int64) (*syncproto.Response, error) {
	if r.DeviceID != deviceID {
		return nil, invalid("report is for device %s, not %s", r.DeviceID, deviceID)
	}
	j := &syncJob{deviceID: deviceID, r: r, until: until, weight: reportWeight(r), done: make(chan bool, 1)}
	var err error
	if j.enc, err = encodeReport(r); err != nil {
		return nil, err
	}
	lg.syncq.run(lg, j)
	if j.err != nil {
		return nil, j.err
	}
	if j.answer != nil {
		return j.answer, nil
	}
	return lg.syncAnswerOf(deviceID, &j.res, r.RevocationSeq)
}

// reconciled is what applying a report left: the reporter's sync state
// and missing ranges, and the acks of the children it carried records of.
type reconciled struct {
	st       SyncState
	missing  []syncproto.SeqRange
	children []syncproto.ChildAck
}

// receiptImport is an admin's import of a usage receipt (docs/design.md#air-gapped-sites step 4):
// the same reconciliation as a sync, by an actor who must manage the
// device's customer, audited, and marked by nonce so that importing the
// same file again changes nothing.
type receiptImport struct {
	actor Actor
	nonce string
	// Set by reconcileOnce.
	duplicate bool
	before    SyncState
}

// reconcile applies r in a transaction of its own, retrying with fewer new
// deductions while the transaction is too big for badger: the answer acks
// what is held, and the agent sends the rest again.
func (lg *Ledger) reconcile(deviceID string, r *syncproto.Report, until int64, imp *receiptImport) (reconciled, error) {
	maxNew := len(r.Deductions)
	for {
		res, err := lg.reconcileOnce(deviceID, r, until, maxNew, imp)
		if errors.Is(err, store.ErrTxnTooBig) && maxNew > 0 {
			maxNew /= 2
			lg.log.Info("sync report too big for one transaction: fewer deductions", "device_id", deviceID, "max_new", maxNew)
			continue
		}
		return res, err
	}
}

// reconcileOnce applies r in one transaction, charging at most maxNew new
// deductions (later new ones are left for the agent to send again), and
// claims its nonce until until (0: none to claim).
func (lg *Ledger) reconcileOnce(deviceID string, r *syncproto.Report, until int64, maxNew int, imp *receiptImport) (reconciled, error) {
	var res reconciled
	err := lg.update(func(o *op) error {
		if imp != nil {
			d, err := o.device(deviceID)
			if err != nil {
				return err
			}
			if res.st, err = o.syncState(d.ID); err != nil {
				return err
			}
			done, err := o.startImport(imp, d, res.st)
			if err != nil {
				return err
			}
			if done { // this very receipt was imported before: nothing to apply
				_, res.st.HighestSeq, res.missing, err = o.ackState(d.ID, res.st.AckedSeq)
				return err
			}
		}
		p, err := o.checkReport(deviceID, r, nil)
		if err != nil {
			return err
		}
		if err := p.claimNonce(r.Nonce, until, o.now); err != nil {
			return err
		}
		p.imported = imp != nil
		if res, err = o.applyReport(p, r, maxNew); err != nil {
			return err
		}
		if imp != nil {
			return o.finishImport(imp, p.devs[0].d, res.st, r)
		}
		return nil
	})
	return res, err
}

// reportPlan is what checking a report against the ledger found: which
// records are new, held or forks, and which counts to write. A checked
// report is applied without a refusal, so that reports sharing one
// transaction never half-apply one of them.
type reportPlan struct {
	// enc are the report's records as stored (encodeReport); nil: encoded
	// when applied.
	enc *encodedReport
	// bounds are latest hours held found before the transaction, for
	// devices whose state has no CountsThrough yet (readBounds).
	bounds map[string]int64
	// devs are the devices the report's records are for: the reporter
	// first, then each gateway child with deductions in report order,
	// then the children with counts only.
	devs   []*devPlan
	deds   []dedPlan // one per report deduction
	counts []bool    // one per report count: write it
	// fork: a deduction of the report is a fork (a seq held with other
	// content); a lower hourly count is then tolerated, not refused.
	fork bool
	// merged are counts of a forked report lower than held in some field:
	// by report index, the per-field highest of held and reported, to be
	// written instead of the reported one (when counts[i] is set).
	merged map[int]syncproto.HourlyCount
	// held are the counts held before the report, by report index, for
	// counts to be written over one (what a write adds is received).
	held map[int]syncproto.HourlyCount
	// raisedDays are the (device, day) records of counts held that the
	// report writes into (MaxRaisedCountDays).
	raisedDays map[deviceDay]struct{}
	// imported: the report is an air-gap usage receipt, made long before
	// it is imported: its sent_at says nothing of the device's clock.
	imported bool
}

// devPlan is one device whose deductions or counts a report carries.
type devPlan struct {
	d         *Device // nil for a child with counts only
	id        string
	st        SyncState
	hasDeds   bool // the reporter, or a child with deductions in the report
	lastSeq   int64
	conflicts []int64 // hours whose reported count was lower than held (forked report)
	through   int64   // the latest hour held (counts), when throughOK
	throughOK bool
	// lics are the licenses new deductions name, read once: a charge
	// updates the one it pays in place.
	lics map[string]*License
}

type dedKind uint8

const (
	dedNew  dedKind = iota // not held: charge it
	dedHeld                // held with the same content: acknowledge again
	dedFork                // held with other content: record the fork
)

type dedPlan struct {
	kind dedKind
	dev  int                 // index into reportPlan.devs
	held syncproto.Deduction // dedFork: what the ledger holds
}

// checkReport reads what r is reconciled against and refuses it
// (ErrNotFound, ErrNotThisDevice, ErrCounterWentDown) before anything of
// it is written. It writes nothing.
func (o *op) checkReport(deviceID string, r *syncproto.Report, bounds map[string]int64) (*reportPlan, error) {
	d, err := o.device(deviceID)
	if err != nil {
		return nil, err
	}
	p := &reportPlan{bounds: bounds, deds: make([]dedPlan, len(r.Deductions)), counts: make([]bool, len(r.Counts))}
	if _, err := p.addDevice(o, d, d.ID); err != nil {
		return nil, err
	}
	for i := range r.Deductions {
		rd := &r.Deductions[i]
		if rd.DeviceID != "" && (len(p.devs) == 1 || p.devs[len(p.devs)-1].d.ID != rd.DeviceID) {
			// Deductions ascend by device: a new device starts here.
			child, err := o.reportedChild(d, rd.DeviceID)
			if err != nil {
				return nil, err
			}
			if _, err := p.addDevice(o, child, child.ID); err != nil {
				return nil, err
			}
		}
		if rd.DeviceID != "" {
			p.deds[i].dev = len(p.devs) - 1
		}
		dp := p.devs[p.deds[i].dev]
		var held syncproto.Deduction
		err := store.ErrNotFound // a seq above the device's last holds no record
		if rd.Seq <= dp.lastSeq {
			err = o.x.GetJSON(store.SyncRecordKey(dp.d.ID, rd.Seq), &held)
		}
		switch {
		case err == nil && held == *rd:
			p.deds[i].kind = dedHeld
		case err == nil:
			p.deds[i].kind, p.deds[i].held = dedFork, held
			p.fork = true
		case !errors.Is(err, store.ErrNotFound):
			return nil, err
		case dp.lics[rd.LicenseID] == nil:
			l, err := o.reportedLicense(dp.d, rd.LicenseID)
			if err != nil {
				return nil, err
			}
			dp.lics[l.ID] = l
		}
	}
	if err := o.checkCounts(p, d, r.Counts); err != nil {
		return nil, err
	}
	return p, nil
}

// addDevice adds the plan of device id (d: nil for a child with counts
// only) with its sync state.
func (p *reportPlan) addDevice(o *op, d *Device, id string) (*devPlan, error) {
	st, err := o.syncState(id)
	if err != nil {
		return nil, err
	}
	dp := &devPlan{d: d, id: id, st: st, hasDeds: d != nil, lics: map[string]*License{}}
	if d != nil {
		dp.lastSeq = d.LastSeq
	}
	p.devs = append(p.devs, dp)
	return dp, nil
}

// plan returns the plan of device id, if the report has one.
func (p *reportPlan) plan(id string) *devPlan {
	for _, dp := range p.devs {
		if dp.id == id {
			return dp
		}
	}
	return nil
}

// reportedChild returns the gateway child a deduction record names: a
// device whose gateway is the reporter, of the reporter's customer.
func (o *op) reportedChild(gw *Device, id string) (*Device, error) {
	child, err := o.device(id)
	if errors.Is(err, ErrNotFound) || err == nil && (child.GatewayID != gw.ID || child.CustomerID != gw.CustomerID) {
		return nil, fmt.Errorf("%w: deduction for device %s, which is not a child of gateway %s", ErrNotThisDevice, id, gw.ID)
	}
	return child, err
}

// applyReport applies a checked report: forks recorded, at most maxNew new
// deductions charged (later new ones are left for the agent to send
// again), counts kept, the sync state of each device written. Its errors
// are the store's (or a transaction too big), never a refusal of the
// report.
func (o *op) applyReport(p *reportPlan, r *syncproto.Report, maxNew int) (reconciled, error) {
	var res reconciled
	if p.enc == nil {
		var err error
		if p.enc, err = encodeReport(r); err != nil {
			return res, err
		}
	}
	left := maxNew
	for i := range r.Deductions {
		rd, dp := &r.Deductions[i], p.devs[p.deds[i].dev]
		switch p.deds[i].kind {
		case dedFork:
			if err := o.recordFork(dp, &p.deds[i].held, rd); err != nil {
				return res, err
			}
		case dedNew:
			if left == 0 {
				continue
			}
			if err := o.applyDeduction(dp, rd, p.enc.records[i]); err != nil {
				return res, err
			}
			left--
		}
	}
	var dp *devPlan
	rcv := receivedBatch{}
	var days countWrites
	for i := range r.Counts {
		if p.counts[i] {
			c := &r.Counts[i]
			v := p.enc.counts[i]
			rcv.add(c, p.merged, p.held, i)
			if m, ok := p.merged[i]; ok {
				var err error
				if v, err = json.Marshal(&m); err != nil {
					return res, fmt.Errorf("ledger: encode hourly count: %w", err)
				}
			}
			if dp == nil || dp.id != c.DeviceID {
				dp = p.plan(c.DeviceID)
			}
			days.add(dp, c.Hour, v)
		}
	}
	if err := days.write(o); err != nil {
		return res, err
	}
	if err := o.addReceived(rcv); err != nil {
		return res, err
	}
	for i, dp := range p.devs {
		st := &dp.st
		moved := dp.throughOK && dp.through > st.CountsThrough
		if moved {
			st.CountsThrough = dp.through
		}
		for _, h := range dp.conflicts {
			st.addForkedHour(h)
		}
		if !dp.hasDeds { // a child with counts only: keep its bound and conflicts
			if moved || len(dp.conflicts) > 0 {
				if err := o.x.PutJSON(store.SyncStateKey(dp.id), st); err != nil {
					return res, err
				}
			}
			continue
		}
		var missing []syncproto.SeqRange
		var err error
		if st.AckedSeq, st.HighestSeq, missing, err = o.ackAfter(dp.d, st.AckedSeq); err != nil {
			return res, err
		}
		st.LastSyncAt, st.Syncs = o.now, st.Syncs+1
		if i == 0 && !p.imported {
			st.ClockOffset, st.ClockCheckedAt = r.SentAt-o.now.Unix(), o.now.Unix()
		}
		if err := o.x.PutJSON(store.SyncStateKey(dp.d.ID), st); err != nil {
			return res, err
		}
		if err := o.putOfflineSync(dp.d.ID); err != nil {
			return res, err
		}
		if i == 0 {
			res.st, res.missing = *st, missing
		} else {
			res.children = append(res.children, syncproto.ChildAck{DeviceID: dp.d.ID, AckedSeq: st.AckedSeq, Missing: missing})
		}
	}
	return res, nil
}

func (o *op) syncState(deviceID string) (SyncState, error) {
	var st SyncState
	err := o.x.GetJSON(store.SyncStateKey(deviceID), &st)
	if errors.Is(err, store.ErrNotFound) {
		err = nil
	}
	return st, err
}

// encodedReport is a report's records as the ledger stores them, encoded
// before the write lock is taken: the same bytes PutJSON would write.
type encodedReport struct {
	records [][]byte // one per deduction: its sync record
	counts  [][]byte // one per hourly count: its line in its day's record
}

func encodeReport(r *syncproto.Report) (*encodedReport, error) {
	e := &encodedReport{records: make([][]byte, len(r.Deductions)), counts: make([][]byte, len(r.Counts))}
	var err error
	for i := range r.Deductions {
		if e.records[i], err = json.Marshal(&r.Deductions[i]); err != nil {
			return nil, fmt.Errorf("ledger: encode sync record: %w", err)
		}
	}
	for i := range r.Counts {
		if e.counts[i], err = json.Marshal(&r.Counts[i]); err != nil {
			return nil, fmt.Errorf("ledger: encode hourly count: %w", err)
		}
	}
	return e, nil
}

// applyDeduction charges a new, checked record of dp's device and keeps
// it as reported (enc: its encoding).
func (o *op) applyDeduction(dp *devPlan, rd *syncproto.Deduction, enc []byte) error {
	d, l := dp.d, dp.lics[rd.LicenseID]
	if l == nil { // read again: another license paid in its place before
		var err error
		if l, err = o.reportedLicense(d, rd.LicenseID); err != nil {
			return err
		}
		dp.lics[l.ID] = l
	}
	// A seq charged through Deduct (not a sync) is adopted, not charged
	// again. A seq above the device's last (which bounds every held one)
	// was not.
	charged := false
	if rd.Seq <= d.LastSeq {
		var err error
		if charged, err = o.x.Has(store.DeductionKey(d.ID, rd.Seq)); err != nil {
			return err
		}
	}
	switch {
	case charged:
	case rd.Failed:
		// The agent found no day to pay and blacklisted itself: the ledger
		// follows it, charging nothing. Like an overdraft it is a failed
		// deduction, listed with them in the sync state.
		// Dated like a charge: never after the receipt, never before the bind.
		rec := &Deduction{Seq: rd.Seq, DeviceID: d.ID, LicenseID: l.ID, At: chargeTime(time.Unix(rd.At, 0), o.now)}
		if rec.At.Before(l.BoundAt) {
			rec.At = l.BoundAt
		}
		if rec.At.Unix() != rd.At {
			rec.ReportedAt = time.Unix(rd.At, 0).UTC()
		}
		if err := o.failDay(d, rec); err != nil {
			return err
		}
		dp.st.Overdrafts++
		o.lg.log.Warn("device blacklisted itself: no days left", "device_id", d.ID, "seq", rd.Seq, "license_id", l.ID)
		if err := o.emitDeduction(EventSyncOverdraft, d, rec); err != nil {
			return err
		}
	default:
		rec, err := o.deductOne(d, rd.Seq, time.Unix(rd.At, 0), l)
		if err != nil {
			return err
		}
		if rec.Failed {
			dp.st.Overdrafts++
			o.lg.log.Warn("sync overdraft", "device_id", d.ID, "seq", rd.Seq, "license_id", rd.LicenseID)
			if err := o.emitDeduction(EventSyncOverdraft, d, rec); err != nil {
				return err
			}
		}
		if rec.LicenseID != "" && rec.LicenseID != l.ID {
			delete(dp.lics, rec.LicenseID) // charged through a copy of its own
		}
	}
	return o.x.Put(store.SyncRecordKey(d.ID, rd.Seq), enc)
}

// reportedLicense returns the license a record names, which must be bound
// to the reporting device.
func (o *op) reportedLicense(d *Device, id string) (*License, error) {
	l, err := o.license(id)
	if errors.Is(err, ErrNotFound) || err == nil && l.DeviceID != d.ID {
		return nil, fmt.Errorf("%w: deduction names license %s, which is not bound to device %s", ErrNotThisDevice, id, d.ID)
	}
	return l, err
}
