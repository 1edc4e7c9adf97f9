package ledger

import (
	"fmt"
	"sync"

	"github.com/tollgate-iot/tollgate/shared/syncproto"
)

// Group commit of sync reports. Every ledger write is one synced badger
// transaction under the ledger's mutex, so one report per commit caps the
// server at one fsync per sync. Reports that arrive while a commit is
// running wait in a queue; the next commit applies all of them (up to
// MaxSyncBatch reports and MaxSyncBatchWeight records) in one transaction
// and one fsync. Each report is checked before any of it is written
// (checkReport), so a refused report is left out and the others still
// commit; an unexpected error while applying (the store's, a transaction
// too big) abandons the whole transaction and the batch is applied again
// one report per transaction, each with its own outcome. A caller returns
// only after the commit that holds its report is durable.
//
// There is no committer goroutine: the first caller to find the queue idle
// leads — it commits a batch that holds its own report, answers the others
// of that batch, and hands the lead to the oldest waiting caller.

// syncJob is one Reconcile call waiting for its commit.
type syncJob struct {
	deviceID string
	r        *syncproto.Report
	until    int64 // the report's nonce is claimed until then (Unix seconds; 0: not claimed)
	weight   int
	enc      *encodedReport
	// Set by the commit that held the report, before done is signalled:
	// bounds are the latest hours held of its devices (readBounds), answer
	// its answer when that commit built it (nil: built after).
	bounds map[string]int64
	res    reconciled
	answer *syncproto.Response
	err    error
	// done receives false when the job's commit is over, true when the job
	// is to lead the next commit.
	done chan bool
}

// syncQueue is the ledger's queue of reports waiting for a commit. The
// zero value is ready.
type syncQueue struct {
	mu      sync.Mutex
	pending []*syncJob
	busy    bool // a leader is committing; it empties pending or hands over
}

// reportWeight is how much a report writes, in hourly-count units: a
// deduction writes about ten records (charge, token, audit, indexes).
func reportWeight(r *syncproto.Report) int {
	return 1 + 10*len(r.Deductions) + len(r.Counts)
}

// run returns when j is committed (or refused).
func (q *syncQueue) run(lg *Ledger, j *syncJob) {
	q.mu.Lock()
	q.pending = append(q.pending, j)
	if q.busy {
		q.mu.Unlock()
		if lead := <-j.done; !lead {
			return
		}
		q.mu.Lock()
	}
	q.busy = true
	batch := q.take()
	q.mu.Unlock()

	// Deferred, so that a panic while committing (a bug) still answers
	// the batch — with the jobs the commit took on the way — and passes
	// the lead on instead of stalling every sync.
	defer q.handOff()
	defer func() {
		p := recover()
		for _, b := range batch {
			if b == j {
				continue
			}
			if p != nil {
				b.err = fmt.Errorf("ledger: sync commit failed: %v", p)
			}
			b.done <- false
		}
		if p != nil {
			panic(p)
		}
	}()
	lg.commitSyncBatch(&batch, q.topUp)
}

// handOff passes the lead to the oldest waiting job, or marks the queue
// idle.
func (q *syncQueue) handOff() {
	q.mu.Lock()
	if len(q.pending) == 0 {
		q.busy = false
		q.mu.Unlock()
		return
	}
	next := q.pending[0]
	q.mu.Unlock()
	next.done <- true
}

// topUp removes from the front of pending the jobs that still fit in
// batch: those that arrived while its leader waited for the store's write
// lock (another replica committing) join the commit that lock starts
// instead of waiting for the next one.
func (q *syncQueue) topUp(batch []*syncJob) []*syncJob {
	w := 0
	for _, j := range batch {
		w += j.weight
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.takeFit(0, len(batch), w)
}

// take removes the next batch from the front of pending: the oldest job
// always (even one over the weight on its own), then more while they fit.
func (q *syncQueue) take() []*syncJob {
	return q.takeFit(1, 1, q.pending[0].weight)
}

// takeFit removes from the front of pending the first n jobs and then
// those that fit with them in one batch of at most MaxSyncBatch jobs and
// MaxSyncBatchWeight records, counting jobs and weight already in it
// (held of them, of weight w, including the n).
func (q *syncQueue) takeFit(n, held, w int) []*syncJob {
	for n < len(q.pending) && held < MaxSyncBatch && w+q.pending[n].weight <= MaxSyncBatchWeight {
		w += q.pending[n].weight
		n, held = n+1, held+1
	}
	out := make([]*syncJob, n)
	copy(out, q.pending)
	clear(q.pending[:n])
	q.pending = q.pending[n:]
	if len(q.pending) == 0 {
		q.pending = nil
	}
	return out
}

// commitSyncBatch applies a batch in one transaction, which also builds
// each applied report's answer (answerBatch), or one report per
// transaction if that fails, and sets each job's outcome.
//
// Once the transaction has begun — the store's write lock taken, which on
// PostgreSQL may have meant waiting for another replica's commit — it
// takes on the jobs that arrived meanwhile (more), into *batch, once: a
// transaction run again after a conflict runs the same batch.
func (lg *Ledger) commitSyncBatch(pbatch *[]*syncJob, more func([]*syncJob) []*syncJob) {
	toppedUp := false
	err := lg.update(func(o *op) error {
		if !toppedUp {
			// Start the transaction first: on PostgreSQL that is where
			// it waits for another replica's commit, and the reports
			// that arrive meanwhile are to go in too.
			if err := o.x.Begin(); err != nil {
				return err
			}
			toppedUp = true
			*pbatch = append(*pbatch, more(*pbatch)...)
		}
		batch := *pbatch
		for _, j := range batch {
			j.err, j.answer = nil, nil
		}
		if err := o.readAhead(batch); err != nil {
			return err
		}
		for _, j := range batch {
			p, err := o.checkReport(j.deviceID, j.r, j.bounds)
			if err == nil {
				err = p.claimNonce(j.r.Nonce, j.until, o.now)
			}
			if err != nil { // refused before anything of it was written
				j.err = err
				continue
			}
			p.enc = j.enc
			if j.res, err = o.applyReport(p, j.r, len(j.r.Deductions)); err != nil {
				return err
			}
		}
		return o.answerBatch(batch)
	})
	if err == nil {
		return
	}
	batch := *pbatch
	if len(batch) > 1 {
		lg.log.Warn("sync group commit failed: one report per transaction", "reports", len(batch), "error", err)
	}
	for _, j := range batch {
		j.answer = nil
		j.res, j.err = lg.reconcile(j.deviceID, j.r, j.until, nil)
	}
}
