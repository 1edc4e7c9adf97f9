package ledger

import (
	"strconv"

	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/limits"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
)

// Reading ahead for a group commit. Checking and applying a report reads
// a handful of keys — the device and its sync state, the licenses its
// deductions name, the counts it may overwrite — and answering it reads
// the device's licenses and their tokens. On PostgreSQL each read is a
// round trip, and the commit every waiting report depends on would make
// them one after another: a batch of 64 reports, hundreds. readAhead
// names those keys to the store first (store.Txn.Prefetch, KeysUnder), in
// three batched reads for the whole batch; the rules below then read them
// as before and are answered from memory. On badger the batched reads
// are the same lookups. Nothing here decides anything: a key read ahead
// and not needed costs a little, a key needed and not read ahead is read
// as before.

// readAhead reads, for every report of the batch, what checkReport and
// applyReport will read, and sets each job's count bounds.
func (o *op) readAhead(batch []*syncJob) error {
	hour := o.now.Unix() - o.now.Unix()%3600
	keys := [][]byte{store.CounterKey("audit"), store.CounterKey("history"), store.RevocationListKey()}
	for _, j := range batch {
		for _, id := range reportDevices(j.deviceID, j.r) {
			keys = append(keys, store.DeviceKey(id), store.SyncStateKey(id), store.StatsOfflineOfKey(id),
				store.ReceivedCountKey(id, hour))
		}
		for i := range j.r.Deductions {
			rd := &j.r.Deductions[i]
			keys = append(keys, store.LicenseKey(rd.LicenseID), store.HeldTokenKey(deductionDevice(j.deviceID, rd), rd.LicenseID))
		}
	}
	if err := o.prefetch(keys); err != nil {
		return err
	}
	if err := o.readBounds(batch); err != nil {
		return err
	}
	// Second round: what the first round's values name — the days of
	// counts at or below a device's latest hour (which a report may
	// overwrite), the
	// records of seqs a device holds, the customers the licenses are of.
	keys = keys[:0]
	for _, j := range batch {
		for i := range j.r.Counts {
			c := &j.r.Counts[i]
			if through, ok := o.countsThrough(c.DeviceID, j.bounds); ok && c.Hour <= through {
				keys = append(keys, store.CountDayKey(c.DeviceID, dayOf(c.Hour)))
			}
		}
		for i := range j.r.Deductions {
			rd := &j.r.Deductions[i]
			dev := deductionDevice(j.deviceID, rd)
			if d, err := o.device(dev); err == nil && rd.Seq <= d.LastSeq {
				keys = append(keys, store.SyncRecordKey(dev, rd.Seq), store.DeductionKey(dev, rd.Seq))
			}
			if l, err := o.license(rd.LicenseID); err == nil {
				keys = append(keys, store.CustomerKey(l.CustomerID))
			}
		}
	}
	return o.prefetch(keys)
}

// prefetch is store.Txn.Prefetch for any number of keys: a batch of
// gateway reports can name more than one read takes.
func (o *op) prefetch(keys [][]byte) error {
	return inChunks(len(keys), store.MaxPrefetchKeys, func(i, j int) error { return o.x.Prefetch(keys[i:j]) })
}

// keysUnder is store.Txn.KeysUnder for any number of prefixes.
func (o *op) keysUnder(prefixes [][]byte, n int, desc bool) ([][][]byte, error) {
	out := make([][][]byte, 0, len(prefixes))
	err := inChunks(len(prefixes), store.MaxKeysUnder, func(i, j int) error {
		ks, err := o.x.KeysUnder(prefixes[i:j], n, desc)
		out = append(out, ks...)
		return err
	})
	return out, err
}

// inChunks calls fn for [i, j) ranges of at most size covering [0, n).
func inChunks(n, size int, fn func(i, j int) error) error {
	for i := 0; i < n; i += size {
		if err := fn(i, min(i+size, n)); err != nil {
			return err
		}
	}
	return nil
}

// readBounds finds, in one walk, the latest day of counts held for each
// device with counts in the batch whose sync state has no CountsThrough (a
// device that never synced counts since the field exists), then reads
// those days for their latest hour, and gives every job the bounds of its
// devices (countsBound).
func (o *op) readBounds(batch []*syncJob) error {
	var ids []string
	var prefixes [][]byte
	seen := map[string]bool{}
	for _, j := range batch {
		for i := range j.r.Counts {
			id := j.r.Counts[i].DeviceID
			if seen[id] {
				continue
			}
			seen[id] = true
			if st, err := o.syncState(id); err == nil && st.CountsThrough == 0 {
				ids, prefixes = append(ids, id), append(prefixes, store.CountDayPrefix(id))
			}
		}
	}
	if len(ids) == 0 {
		return nil
	}
	last, err := o.keysUnder(prefixes, 1, true)
	if err != nil {
		return err
	}
	var dayKeys [][]byte
	for i := range ids {
		if len(last[i]) > 0 {
			dayKeys = append(dayKeys, last[i][0])
		}
	}
	if err := o.prefetch(dayKeys); err != nil {
		return err
	}
	bounds := make(map[string]int64, len(ids))
	for i, id := range ids {
		if len(last[i]) == 0 {
			bounds[id] = 0
			continue
		}
		day, err := strconv.ParseInt(store.LastPart(last[i][0]), 10, 64)
		if err != nil {
			continue // left out: countsBound walks the keys and names the bad one
		}
		h, err := o.lastCountHourOf(id, day)
		if err != nil {
			continue // left out: countsBound reads it again and names the error
		}
		bounds[id] = h
	}
	for _, j := range batch {
		j.bounds = bounds
	}
	return nil
}

// countsThrough is the latest hour held for a device, from its sync state
// or the bounds read ahead; false when neither knows.
func (o *op) countsThrough(id string, bounds map[string]int64) (int64, bool) {
	st, err := o.syncState(id)
	if err != nil {
		return 0, false
	}
	if st.CountsThrough > 0 {
		return st.CountsThrough, true
	}
	b, ok := bounds[id]
	return b, ok
}

// reportDevices lists the reporter and every other device a report has
// records of (a gateway's children), each once.
func reportDevices(reporter string, r *syncproto.Report) []string {
	out := []string{reporter}
	add := func(id string) {
		if id != "" && id != out[len(out)-1] {
			out = append(out, id)
		}
	}
	for i := range r.Deductions {
		add(r.Deductions[i].DeviceID)
	}
	for i := range r.Counts {
		add(r.Counts[i].DeviceID)
	}
	return out
}

// deductionDevice is the device a deduction record is of: the reporter,
// or the gateway child it names.
func deductionDevice(reporter string, rd *syncproto.Deduction) string {
	if rd.DeviceID != "" {
		return rd.DeviceID
	}
	return reporter
}

// answerBatch builds, in the commit's own transaction, the answer of every
// job the commit applied — what syncAnswerOf reads after it, read for the
// whole batch at once: the licenses bound to each device in one walk, then
// their tokens and the revocation list in one read. A device whose index
// lists more licenses than one walk takes (more than a device may hold) is
// answered by answerOf's own walk.
func (o *op) answerBatch(batch []*syncJob) error {
	var jobs []*syncJob
	var prefixes [][]byte
	for _, j := range batch {
		if j.err == nil {
			jobs, prefixes = append(jobs, j), append(prefixes, store.LicenseByDevicePrefix(j.deviceID))
		}
	}
	if len(jobs) == 0 {
		return nil
	}
	bound, err := o.keysUnder(prefixes, answerWalk, false)
	if err != nil {
		return err
	}
	keys := [][]byte{store.RevocationListKey()}
	for _, ks := range bound {
		for _, k := range ks {
			keys = append(keys, store.TokenKey(store.LastPart(k)))
		}
	}
	if err := o.prefetch(keys); err != nil {
		return err
	}
	for i, j := range jobs {
		var lics []string
		if len(bound[i]) < answerWalk { // all of them: no walk of its own
			lics = make([]string, 0, len(bound[i]))
			for _, k := range bound[i] {
				lics = append(lics, store.LastPart(k))
			}
		}
		if j.answer, err = o.answerOf(j.deviceID, &j.res, j.r.RevocationSeq, lics); err != nil {
			return err
		}
	}
	return nil
}

// answerWalk is how many bound licenses of a device answerBatch reads in
// its one walk: one more than a device may hold, so that a walk that
// comes back short has them all.
const answerWalk = limits.MaxLicensesPerDevice + 1
