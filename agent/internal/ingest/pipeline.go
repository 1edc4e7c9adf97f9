// Package ingest takes samples in — from Go code in the same process, from
// POST /v1/samples, and from the bridge — runs each through the gate and,
// if it is accepted, commits it to the outbox before answering.
//
// Commits are grouped: one committer goroutine drains every request that
// is waiting and writes their outbox entries, sample sequences, hourly
// buckets and lifetime totals in one badger transaction (a few, if large).
// With sync_every_commit on, a syncer goroutine then fsyncs once for every
// group that committed while its previous fsync ran and only then answers
// the requests and hands the entries to the publisher; with it off, the
// committer answers right after the commit. A sample is
// reported accepted only after its transaction committed (and was synced),
// so a crash never loses an accepted sample, never reuses a sequence and
// never lowers a budget.
package ingest

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/tollgate-iot/tollgate/agent/internal/effclock"
	"github.com/tollgate-iot/tollgate/agent/internal/gate"
	"github.com/tollgate-iot/tollgate/agent/internal/limits"
	"github.com/tollgate-iot/tollgate/agent/internal/outbox"
	"github.com/tollgate-iot/tollgate/agent/internal/store"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// ErrClosed reports a Submit after the pipeline stopped.
var ErrClosed = errors.New("ingest pipeline is closed")

// Options configures a Pipeline.
type Options struct {
	Gate   *gate.Gate
	Outbox *outbox.Outbox
	Store  *store.Store
	Clock  *effclock.Clock
	// DefaultDevice is the agent's own id, for samples without device_id.
	DefaultDevice string
	Logger        *slog.Logger
}

// Pipeline is the ingest path. It is safe for concurrent use.
type Pipeline struct {
	o    Options
	log  *slog.Logger
	reqs chan *request
	stop chan struct{}
	done chan struct{}
	// heads, lastGroup (the requests of the previous commit group) and ts
	// are touched only by the committer goroutine.
	heads     map[envKey]*envHead
	lastGroup int
	ts        wire.TSFormatter
	// synced carries committed groups to the syncer, which fsyncs once for
	// all that queued up while it was busy, then answers them.
	synced chan *committed
}

// committed is a group whose transactions went through, waiting for fsync.
type committed struct {
	group  []*request
	chunks []*chunk
}

type pending struct {
	idx int
	dec gate.Decision
}

type request struct {
	samples []wire.Sample
	results []wire.Result
	pend    []pending
	done    chan struct{}
	marks   [][]byte // SubmitMarked's keys (marks.go); nil from Submit
}

// New returns a pipeline; call Run to start its committer.
func New(o Options) *Pipeline {
	p := &Pipeline{o: o, log: o.Logger, reqs: make(chan *request, limits.SubmitQueue),
		stop: make(chan struct{}), done: make(chan struct{}), heads: map[envKey]*envHead{},
		synced: make(chan *committed, limits.SubmitQueue)}
	if p.log == nil {
		p.log = slog.Default()
	}
	return p
}

// Submit decides every sample and commits the accepted ones; it returns
// one result per sample, in order. It blocks until the commit is durable.
func (p *Pipeline) Submit(ctx context.Context, samples []wire.Sample) ([]wire.Result, error) {
	return p.submit(ctx, &request{samples: samples, results: make([]wire.Result, len(samples)), done: make(chan struct{})})
}

func (p *Pipeline) submit(ctx context.Context, req *request) ([]wire.Result, error) {
	samples := req.samples
	for i := range samples {
		s := &samples[i]
		if err := s.Validate(limits.MaxSampleDataBytes); err != nil {
			p.refuse(req, i, gate.InvalidSample)
			continue
		}
		id := s.DeviceID
		if id == "" {
			id = p.o.DefaultDevice
		}
		if !p.o.Outbox.Reserve() {
			p.refuse(req, i, gate.QueueFull)
			continue
		}
		dec := p.o.Gate.DecideID(id)
		if !dec.Accepted() {
			p.o.Outbox.Release()
			req.results[i] = wire.Result{Reason: dec.Reason.String()}
			continue
		}
		req.pend = append(req.pend, pending{idx: i, dec: dec})
	}
	if len(req.pend) == 0 {
		return req.results, nil
	}
	select {
	case p.reqs <- req:
	case <-p.stop:
		p.release(req)
		return nil, ErrClosed
	}
	select {
	case <-req.done:
		return req.results, nil
	case <-p.done:
		<-req.done
		return req.results, nil
	}
}

func (p *Pipeline) refuse(req *request, i int, r gate.Reason) {
	p.o.Gate.Refuse(r)
	req.results[i] = wire.Result{Reason: r.String()}
}

func (p *Pipeline) release(req *request) {
	for range req.pend {
		p.o.Outbox.Release()
	}
}

// Run commits until ctx ends, then drains what is queued and returns.
func (p *Pipeline) Run(ctx context.Context) {
	syncDone := make(chan struct{})
	go func() { p.syncer(); close(syncDone) }()
	defer func() {
		close(p.synced)
		<-syncDone
		close(p.done)
	}()
	for {
		select {
		case r := <-p.reqs:
			p.commitGroup(r, p.o.Outbox.Flushes())
		case <-ctx.Done():
			close(p.stop)
			for {
				select {
				case r := <-p.reqs:
					p.commitGroup(r, false)
				default:
					return
				}
			}
		}
	}
}

// commitGroup commits r and every request already waiting behind it and
// hands the group to the syncer. With linger (fsync on) it first waits, at
// most syncLinger, until the group is as large as the previous one: the
// producers answered by the last fsync come back one after another, and
// the fsync waits for all of them anyway, so one transaction for all of
// them saves a badger commit per producer on the way to that fsync.
func (p *Pipeline) commitGroup(first *request, linger bool) {
	group := []*request{first}
	n := len(first.pend)
	for n < limits.CommitBatchSamples {
		select {
		case r := <-p.reqs:
			group = append(group, r)
			n += len(r.pend)
			continue
		default:
		}
		break
	}
	if linger && len(group) < p.lastGroup && n < limits.CommitBatchSamples {
		t := time.NewTimer(syncLinger)
	wait:
		for len(group) < p.lastGroup && n < limits.CommitBatchSamples {
			select {
			case r := <-p.reqs:
				group = append(group, r)
				n += len(r.pend)
			case <-t.C:
				break wait
			}
		}
		t.Stop()
	}
	p.lastGroup = len(group)
	c := &committed{group: group, chunks: p.commit(group)}
	if !p.o.Outbox.Flushes() {
		// Nothing to fsync: answer here rather than through the syncer,
		// one goroutine hand-off less per group.
		p.answer([]*committed{c}, nil)
		return
	}
	p.synced <- c
}

// syncLinger bounds how long the syncer waits for more committed requests
// before an fsync (see syncer).
const syncLinger = time.Millisecond

// syncer fsyncs once for every group that queued up meanwhile, then hands
// their entries to the publisher and answers their requests, in order.
//
// With fsync on, it first lingers (at most syncLinger) until as many
// requests committed as the previous fsync answered: producers that were
// just answered come back within a commit's time, and one fsync covering
// all of them instead of every other one halves the fsyncs per sample
// (group commit's commit_delay, adapted to the producers actually seen).
func (p *Pipeline) syncer() {
	var batch []*committed
	expect := 0
	lingering := p.o.Outbox.Flushes()
	for c := range p.synced {
		batch = append(batch[:0], c)
		reqs := len(c.group)
		open := true
	more:
		for {
			select {
			case c, ok := <-p.synced:
				if !ok {
					open = false
					break more
				}
				batch = append(batch, c)
				reqs += len(c.group)
			default:
				break more
			}
		}
		if lingering && open && reqs < expect {
			t := time.NewTimer(syncLinger)
		linger:
			for reqs < expect {
				select {
				case c, ok := <-p.synced:
					if !ok {
						break linger
					}
					batch = append(batch, c)
					reqs += len(c.group)
				case <-t.C:
					break linger
				}
			}
			t.Stop()
		}
		expect = reqs
		err := p.o.Outbox.Flush()
		if err != nil {
			p.log.Error("outbox fsync failed; samples answered storage_error (they stay queued)", "err", err)
		}
		p.answer(batch, err)
	}
}

// answer completes committed groups: storage_error for all of their
// samples if err (the fsync failed), then the requests are answered and
// their entries handed to the publisher. The publisher is woken last, so
// that it is the goroutine that runs next when the caller blocks, not one
// that waits behind the producers just answered.
func (p *Pipeline) answer(batch []*committed, err error) {
	for _, c := range batch {
		if err != nil {
			for _, ch := range c.chunks {
				for _, ref := range ch.refs {
					*ref = wire.Result{Reason: gate.StorageError.String()}
					p.o.Gate.Refuse(gate.StorageError)
				}
			}
		}
		for _, r := range c.group {
			close(r.done)
		}
	}
	for _, c := range batch {
		for _, ch := range c.chunks {
			p.o.Outbox.Hand(ch.entries)
		}
	}
}

// Transaction size estimates (keys, badger's per-entry overhead), so that a
// chunk stays under badger's batch limit with its counter records.
const (
	perEntryBytes  = 64
	perDeviceBytes = 256
	perBucketBytes = 128
)

// chunk is the samples of one transaction.
type chunk struct {
	entries []outbox.Entry
	refs    []*wire.Result
	devs    map[*gate.Device]map[int64]bool
	bytes   int
	// arena holds the chunk's envelopes back to back.
	arena []byte
	// lastDev and lastHour are the device and hour add recorded last.
	lastDev  *gate.Device
	lastHour int64
	marks    []mark // written with the chunk (marks.go)
}

// commit writes the group's samples in transactions of bounded size and
// returns the chunks that committed.
func (p *Pipeline) commit(group []*request) []*chunk {
	var done []*chunk
	c := newChunk()
	for _, r := range group {
		for _, pe := range r.pend {
			if c.bytes >= limits.CommitBatchBytes {
				if p.flush(c) {
					done = append(done, c)
				}
				c = newChunk()
			}
			p.add(c, r, pe)
		}
	}
	if p.flush(c) {
		done = append(done, c)
	}
	return done
}

// envelope returns the telemetry topic and the envelope's fixed head for
// a device under a license, built once per (customer, device, license).
func (p *Pipeline) envelope(customer, device, license string) *envHead {
	k := envKey{customer, device, license}
	if h, ok := p.heads[k]; ok {
		return h
	}
	if len(p.heads) >= limits.MaxChildren+1 {
		clear(p.heads)
	}
	h := &envHead{topic: wire.TelemetryTopic(customer, device), head: wire.TelemetryHead(device, customer, license)}
	p.heads[k] = h
	return h
}

type envKey struct{ customer, device, license string }

type envHead struct {
	topic string
	head  []byte
}

// arenaBytes is the size of the blocks envelopes are carved from, so that
// a chunk allocates a few blocks rather than one buffer per sample.
const arenaBytes = 64 << 10

func newChunk() *chunk { return &chunk{devs: map[*gate.Device]map[int64]bool{}} }

func (p *Pipeline) add(c *chunk, r *request, pe pending) {
	d, l := pe.dec.Device, pe.dec.License
	seq := d.SampleSeq.Add(1)
	s := &r.samples[pe.idx]
	h := p.envelope(l.Tok.CustomerID, d.ID, l.Tok.LicenseID)
	// An envelope's tail: seq, ts (≤ 35 bytes quoted), device_ts (≤ 64,
	// possibly escaped by strconv.Quote), overage, data, punctuation.
	need := len(h.head) + 48 + 40 + 16 + 2*len(s.TS) + 16 + len(s.Data) + 16
	if cap(c.arena)-len(c.arena) < need {
		c.arena = make([]byte, 0, max(arenaBytes, need))
	}
	start := len(c.arena)
	c.arena = append(c.arena, h.head...)
	c.arena = wire.AppendTelemetryTailTS(c.arena, &p.ts, seq, pe.dec.Eff, s.TS, pe.dec.Overage, s.Data)
	payload := c.arena[start:len(c.arena):len(c.arena)]
	c.entries = append(c.entries, outbox.Entry{Topic: h.topic, Payload: payload, Head: len(h.head)})
	r.results[pe.idx] = wire.Result{Accepted: true, Seq: seq}
	c.refs = append(c.refs, &r.results[pe.idx])
	c.noteMark(r, pe.idx)
	// Consecutive samples are mostly of one device and hour: skip the
	// two map lookups for those.
	if d != c.lastDev || pe.dec.Hour != c.lastHour {
		c.lastDev, c.lastHour = d, pe.dec.Hour
		if c.devs[d] == nil {
			c.devs[d] = map[int64]bool{}
			c.bytes += perDeviceBytes
		}
		if !c.devs[d][pe.dec.Hour] {
			c.devs[d][pe.dec.Hour] = true
			c.bytes += perBucketBytes
		}
	}
	c.bytes += len(payload) + len(c.entries[len(c.entries)-1].Topic) + perEntryBytes
}

// flush writes one chunk: entries, and for every device in it the sample
// sequence, the touched hourly buckets, the totals and the clock. It
// reports whether the chunk committed.
func (p *Pipeline) flush(c *chunk) bool {
	if len(c.entries) == 0 {
		return false
	}
	head := p.o.Outbox.Head()
	err := p.o.Store.Update(func(txn *store.Txn) error {
		if err := p.o.Outbox.Append(txn, c.entries); err != nil {
			return err
		}
		for d, hours := range c.devs {
			if err := store.SetInt(txn, store.KeySampleSeq(d.ID), d.SampleSeq.Load()); err != nil {
				return err
			}
			var totals store.Bucket
			for h := range hours {
				var b store.Bucket
				b, totals = d.Bucket(h)
				if err := store.SetJSON(txn, store.KeyBucket(d.ID, h), b); err != nil {
					return err
				}
			}
			if err := store.SetJSON(txn, store.KeyTotals(d.ID), totals); err != nil {
				return err
			}
		}
		if err := c.writeMarks(txn); err != nil {
			return err
		}
		return store.SetJSON(txn, store.KeyClock(), p.o.Clock.State())
	})
	if err == nil {
		return true
	}
	p.o.Outbox.Rewind(head)
	p.log.Error("outbox commit failed; samples refused", "samples", len(c.entries), "err", err)
	for _, ref := range c.refs {
		*ref = wire.Result{Reason: gate.StorageError.String()}
		p.o.Gate.Refuse(gate.StorageError)
		p.o.Outbox.Release()
	}
	return false
}
