package ledger

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
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
	err := lg.view(func(o *op) error {
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
	if r.DeviceID != deviceID {
		return nil, invalid("report is for device %s, not %s", r.DeviceID, deviceID)
	}
	j := &syncJob{deviceID: deviceID, r: r, weight: reportWeight(r), done: make(chan bool, 1)}
	var err error
	if j.bounds, err = lg.countsBounds(r.Counts); err != nil {
		return nil, err
	}
	if j.enc, err = encodeReport(r); err != nil {
		return nil, err
	}
	lg.syncq.run(lg, j)
	if j.err != nil {
		return nil, j.err
	}
	return lg.syncAnswerOf(deviceID, &j.res)
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
func (lg *Ledger) reconcile(deviceID string, r *syncproto.Report, imp *receiptImport) (reconciled, error) {
	maxNew := len(r.Deductions)
	for {
		res, err := lg.reconcileOnce(deviceID, r, maxNew, imp)
		if errors.Is(err, store.ErrTxnTooBig) && maxNew > 0 {
			maxNew /= 2
			lg.log.Info("sync report too big for one transaction: fewer deductions", "device_id", deviceID, "max_new", maxNew)
			continue
		}
		return res, err
	}
}

// reconcileOnce applies r in one transaction, charging at most maxNew new
// deductions (later new ones are left for the agent to send again).
func (lg *Ledger) reconcileOnce(deviceID string, r *syncproto.Report, maxNew int, imp *receiptImport) (reconciled, error) {
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
	// devices whose state has no CountsThrough yet (countsBounds).
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
	for i := range r.Counts {
		if p.counts[i] {
			c := &r.Counts[i]
			v := p.enc.counts[i]
			if m, ok := p.merged[i]; ok {
				var err error
				if v, err = json.Marshal(&m); err != nil {
					return res, fmt.Errorf("ledger: encode hourly count: %w", err)
				}
			}
			if err := o.x.Put(p.enc.countKeys[i], v); err != nil {
				return res, err
			}
			if dp == nil || dp.id != c.DeviceID {
				dp = p.plan(c.DeviceID)
			}
			dp.through = max(dp.through, c.Hour)
		}
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
		if err := o.x.PutJSON(store.SyncStateKey(dp.d.ID), st); err != nil {
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
	records           [][]byte // one per deduction: its sync record
	countKeys, counts [][]byte // one per hourly count: key and value
}

func encodeReport(r *syncproto.Report) (*encodedReport, error) {
	e := &encodedReport{records: make([][]byte, len(r.Deductions)),
		countKeys: make([][]byte, len(r.Counts)), counts: make([][]byte, len(r.Counts))}
	var err error
	for i := range r.Deductions {
		if e.records[i], err = json.Marshal(&r.Deductions[i]); err != nil {
			return nil, fmt.Errorf("ledger: encode sync record: %w", err)
		}
	}
	for i := range r.Counts {
		c := &r.Counts[i]
		e.countKeys[i] = store.HourlyCountKey(c.DeviceID, c.Hour)
		if e.counts[i], err = json.Marshal(c); err != nil {
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
		rec := &Deduction{Seq: rd.Seq, DeviceID: d.ID, LicenseID: l.ID, At: chargeTime(time.Unix(rd.At, 0), o.now)}
		if rec.At.Unix() != rd.At {
			rec.ReportedAt = time.Unix(rd.At, 0).UTC()
		}
		if err := o.failDay(d, rec); err != nil {
			return err
		}
		dp.st.Overdrafts++
		o.lg.log.Warn("device blacklisted itself: no days left", "device_id", d.ID, "seq", rd.Seq, "license_id", l.ID)
	default:
		rec, err := o.deductOne(d, rd.Seq, time.Unix(rd.At, 0), l)
		if err != nil {
			return err
		}
		if rec.Failed {
			dp.st.Overdrafts++
			o.lg.log.Warn("sync overdraft", "device_id", d.ID, "seq", rd.Seq, "license_id", rd.LicenseID)
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

// recordFork keeps a conflicting record once per distinct content and,
// when it is a day the device used (not a failed record), charges that
// day again: a day used twice is paid twice (docs/design.md#trust-boundaries). The charge is made
// in the same transaction as the fork key, so each distinct forked record
// is charged exactly once however often, in whatever order and through
// whichever report (sync or receipt) it comes.
func (o *op) recordFork(dp *devPlan, held, rd *syncproto.Deduction) error {
	d, st := dp.d, &dp.st
	b, err := json.Marshal(rd)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(b)
	digest := hex.EncodeToString(sum[:8])
	k := store.ForkKey(d.ID, rd.Seq, digest)
	if seen, err := o.x.Has(k); err != nil || seen {
		return err
	}
	st.Forks++
	f := Fork{Seq: rd.Seq, At: o.now, Held: *held, Reported: *rd}
	if !rd.Failed {
		if f.Charge, err = o.chargeFork(dp, rd, digest); err != nil {
			return err
		}
	}
	switch {
	case f.Charge == nil:
		o.lg.log.Warn("sync fork: a seq reported twice with other content; the forked record used no day", "device_id", d.ID, "seq", rd.Seq)
	case f.Charge.Failed:
		st.Overdrafts++
		o.lg.log.Warn("sync fork: a day used twice, nothing can pay it: device blacklisted", "device_id", d.ID, "seq", rd.Seq)
	default:
		o.lg.log.Warn("sync fork: a day used twice, charged again", "device_id", d.ID, "seq", rd.Seq, "license_id", f.Charge.LicenseID)
	}
	if err := o.x.PutJSON(k, &f); err != nil {
		return err
	}
	return o.audit(SystemActor(), "device.sync_fork", "device", d.ID, d.CustomerID, held, &f)
}

// chargeFork charges the day of a forked record like a new deduction: the
// license it names if that can pay it (bound to the device, judged at the
// day's time), otherwise the ledger's order; if nothing can pay, an
// overdraft that blacklists the device. A license the record names that
// is no longer the device's does not refuse the report: the record is old.
func (o *op) chargeFork(dp *devPlan, rd *syncproto.Deduction, digest string) (*Deduction, error) {
	d := dp.d
	l := dp.lics[rd.LicenseID]
	if l == nil {
		var err error
		switch l, err = o.license(rd.LicenseID); {
		case errors.Is(err, ErrNotFound) || err == nil && l.DeviceID != d.ID:
			l = nil
		case err != nil:
			return nil, err
		default:
			dp.lics[l.ID] = l
		}
	}
	rec, err := o.deductDay(d, &Deduction{Seq: rd.Seq, DeviceID: d.ID, Fork: digest}, time.Unix(rd.At, 0), l)
	if err != nil {
		return nil, err
	}
	if rec.LicenseID != "" && (l == nil || rec.LicenseID != l.ID) {
		delete(dp.lics, rec.LicenseID) // charged through a copy of its own
	}
	return rec, nil
}

// checkCounts refuses a count past what a device can do in an hour
// (syncproto.ErrImpossibleCount), counts for a device that is neither d nor its
// gateway child, and a count lower than the one held for its (device,
// hour) — unless the report is a fork (p.fork: a restored older copy or a
// second agent with the same identity), whose lower count is no bad input:
// the held value is kept (each field at its highest), the hour noted as a
// conflict, and the rest of the report applied. It marks in p.counts the
// counts that are new or higher than held. Counts of an hour after the
// latest held for their device are new without a look-up.
func (o *op) checkCounts(p *reportPlan, d *Device, cs []syncproto.HourlyCount) error {
	var dp *devPlan
	for i := range cs {
		c := &cs[i]
		if err := c.CheckPossible(); err != nil {
			return err
		}
		if dp == nil || dp.id != c.DeviceID { // counts ascend by device: a new one starts here
			if c.DeviceID != d.ID {
				child, err := o.device(c.DeviceID)
				if errors.Is(err, ErrNotFound) || err == nil && child.GatewayID != d.ID {
					return fmt.Errorf("%w: counts for device %s, which is not %s nor its child", ErrNotThisDevice, c.DeviceID, d.ID)
				}
				if err != nil {
					return err
				}
			}
			if dp = p.plan(c.DeviceID); dp == nil {
				var err error
				if dp, err = p.addDevice(o, nil, c.DeviceID); err != nil {
					return err
				}
			}
			if err := o.countsBound(dp, p.bounds); err != nil {
				return err
			}
		}
		if c.Hour > dp.through {
			p.counts[i] = true
			continue
		}
		var held syncproto.HourlyCount
		err := o.x.GetJSON(store.HourlyCountKey(c.DeviceID, c.Hour), &held)
		switch {
		case err == nil && held == *c:
			continue
		case err == nil && (c.Accepted < held.Accepted || c.Overage < held.Overage || c.Refused < held.Refused) && p.fork:
			dp.conflicts = append(dp.conflicts, c.Hour)
			m := syncproto.HourlyCount{DeviceID: c.DeviceID, Hour: c.Hour, Accepted: max(c.Accepted, held.Accepted),
				Overage: max(c.Overage, held.Overage), Refused: max(c.Refused, held.Refused)}
			if m == held {
				continue
			}
			if p.merged == nil {
				p.merged = map[int]syncproto.HourlyCount{}
			}
			p.merged[i] = m
		case err == nil && (c.Accepted < held.Accepted || c.Overage < held.Overage || c.Refused < held.Refused):
			return fmt.Errorf("%w: device %s hour %s: %d/%d/%d reported, %d/%d/%d held (accepted/overage/refused)",
				ErrCounterWentDown, c.DeviceID, time.Unix(c.Hour, 0).UTC().Format(time.RFC3339),
				c.Accepted, c.Overage, c.Refused, held.Accepted, held.Overage, held.Refused)
		case err != nil && !errors.Is(err, store.ErrNotFound):
			return err
		}
		p.counts[i] = true
	}
	return nil
}

// countsBound sets dp.through to the latest hour held for dp's device:
// from its sync state, else (a state from before CountsThrough) from
// bounds, else from the last hourly count key. A state without
// CountsThrough was never written by a count since the field exists, so
// a bound found before the transaction still holds in it.
func (o *op) countsBound(dp *devPlan, bounds map[string]int64) error {
	if dp.throughOK {
		return nil
	}
	dp.throughOK, dp.through = true, dp.st.CountsThrough
	if dp.through > 0 {
		return nil
	}
	if b, ok := bounds[dp.id]; ok {
		dp.through = b
		return nil
	}
	var err error
	dp.through, err = o.lastCountHour(dp.id)
	return err
}

// lastCountHour returns the latest hour held for a device (0: none). It
// walks the device's count keys forward, without values: once per device
// (its state then keeps the bound), and a fresh device has none — a
// reverse seek with badger's prefetch costs far more.
func (o *op) lastCountHour(deviceID string) (int64, error) {
	var last []byte
	err := o.x.Scan(store.HourlyCountPrefix(deviceID), nil, false, func(k, _ []byte) (bool, error) {
		last = append(last[:0], k...)
		return true, nil
	})
	if err != nil || last == nil {
		return 0, err
	}
	h, err := strconv.ParseInt(store.LastPart(last), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("ledger: hourly count key %q: %w", last, err)
	}
	return h, nil
}

// countsBounds finds, outside the write lock, the latest hour held for
// each device with counts in a report whose sync state has no
// CountsThrough yet, so that its first sync since does not seek under the
// lock.
func (lg *Ledger) countsBounds(cs []syncproto.HourlyCount) (map[string]int64, error) {
	var out map[string]int64
	err := lg.view(func(o *op) error {
		for i := range cs {
			id := cs[i].DeviceID
			if i > 0 && id == cs[i-1].DeviceID {
				continue
			}
			st, err := o.syncState(id)
			if err != nil || st.CountsThrough > 0 {
				if err != nil {
					return err
				}
				continue
			}
			h, err := o.lastCountHour(id)
			if err != nil {
				return err
			}
			if out == nil {
				out = map[string]int64{}
			}
			out[id] = h
		}
		return nil
	})
	return out, err
}

// ackAfter is ackState without a scan in the usual case: it walks the
// held seqs just above acked, and only when the device has deducted beyond
// where that walk stops (Device.LastSeq bounds every held seq) does it
// scan for the highest seq and the missing ranges.
func (o *op) ackAfter(d *Device, acked int64) (newAcked, highest int64, missing []syncproto.SeqRange, err error) {
	for acked < d.LastSeq {
		held, err := o.x.Has(store.DeductionKey(d.ID, acked+1))
		if err != nil {
			return 0, 0, nil, err
		}
		if !held {
			break
		}
		acked++
	}
	if acked >= d.LastSeq {
		return acked, acked, []syncproto.SeqRange{}, nil
	}
	return o.ackState(d.ID, acked)
}

// ackState walks the deduction records of a device above acked: it returns
// the highest gap-free seq, the highest seq and the missing ranges between
// (at most MaxSyncMissingRanges).
func (o *op) ackState(deviceID string, acked int64) (newAcked, highest int64, missing []syncproto.SeqRange, err error) {
	missing = []syncproto.SeqRange{}
	var after []byte
	if acked > 0 {
		after = store.DeductionKey(deviceID, acked)
	}
	next, gapless := acked+1, true
	highest = acked
	err = o.x.Scan(store.DeductionPrefix(deviceID), after, false, func(k, _ []byte) (bool, error) {
		seq, err := strconv.ParseInt(store.LastPart(k), 10, 64)
		if err != nil {
			return false, fmt.Errorf("ledger: deduction key %q: %w", k, err)
		}
		if seq > next {
			gapless = false
			if len(missing) < MaxSyncMissingRanges {
				missing = append(missing, syncproto.SeqRange{From: next, To: seq - 1})
			}
		}
		if gapless {
			acked = seq
		}
		next, highest = seq+1, seq
		return true, nil
	})
	return acked, highest, missing, err
}

// syncAnswer builds the answer after the report is committed: the device's
// current tokens (re-issued by the deductions just charged) and list.
func (lg *Ledger) syncAnswer(deviceID string, acked int64, missing []syncproto.SeqRange) (*syncproto.Response, error) {
	return lg.syncAnswerOf(deviceID, &reconciled{st: SyncState{AckedSeq: acked}, missing: missing})
}

// syncAnswerOf is syncAnswer with the acks of a gateway's children.
func (lg *Ledger) syncAnswerOf(deviceID string, res *reconciled) (*syncproto.Response, error) {
	out := &syncproto.Response{DeviceID: deviceID, AckedSeq: res.st.AckedSeq, Missing: res.missing, Children: res.children, Tokens: []string{}}
	slices.SortFunc(out.Children, func(a, b syncproto.ChildAck) int { return strings.Compare(a.DeviceID, b.DeviceID) })
	err := lg.view(func(o *op) error {
		out.ServerTime = o.now.Unix()
		err := o.x.Scan(store.LicenseByDevicePrefix(deviceID), nil, false, func(k, _ []byte) (bool, error) {
			t, err := o.currentToken(store.LastPart(k))
			if err != nil || t == nil {
				return err == nil, err
			}
			out.Tokens = append(out.Tokens, t.Token)
			return len(out.Tokens) < MaxSyncTokens, nil
		})
		if err != nil {
			return err
		}
		out.RevocationList, err = o.revocationText(deviceID)
		return err
	})
	return out, err
}

// SignSyncResponse signs a sync answer with the active server key.
func (lg *Ledger) SignSyncResponse(r *syncproto.Response) (string, error) {
	s, err := lg.keys.Active()
	if err != nil {
		return "", err
	}
	return syncproto.SignResponse(s, r)
}
