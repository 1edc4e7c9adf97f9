// Package outbox is the agent's own store-and-forward queue, in badger (not
// paho's file store, which renames without fsync; docs/dependencies.md).
//
// Entries are written in the same transaction as the counters they move
// (sample sequence, hourly bucket), before the samples are acknowledged to
// whoever submitted them, packed into segments (segment.go) so that a
// commit costs badger a few records rather than one per sample. An entry
// is gone only after the broker's PUBACK: acknowledgements arrive in order
// and move a persisted watermark that every read skips below; a segment is
// deleted when its last entry is acknowledged. The queue is bounded:
// Reserve refuses a slot when the bound is reached and counts the refusal
// as dropped, so nothing that was accepted is ever evicted.
package outbox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/tollgate-iot/tollgate/agent/internal/limits"
	"github.com/tollgate-iot/tollgate/agent/internal/store"
)

// ErrCorrupt reports an outbox entry that does not decode.
var ErrCorrupt = errors.New("outbox entry is corrupt")

// Entry is one message to publish.
type Entry struct {
	Seq     int64
	Topic   string
	Payload []byte
	// Head is the length of Payload's start that every entry of the same
	// topic and license shares (wire.TelemetryHead); a segment stores it
	// once. Zero is always correct, only less compact.
	Head int
	// Seg is the first sequence of the segment (badger record) holding the
	// entry; Last marks the segment's final entry, whose acknowledgement
	// deletes the segment.
	Seg  int64
	Last bool
}

// Outbox is the queue. Commit is called by one goroutine (the committer),
// Read and Ack by another (the publisher); Reserve/Release by any.
type Outbox struct {
	st        *store.Store
	db        *badger.DB
	max       int64
	sync      bool
	head      int64
	ackedSeq  atomic.Int64
	depth     atomic.Int64
	dropped   atomic.Int64
	committed atomic.Int64
	acked     atomic.Int64
	notify    chan struct{}
	// recorded is closed (and replaced) by every Record.
	recordedMu sync.Mutex
	recorded   chan struct{}
	// live carries freshly committed entries to the publisher so that it
	// need not read them back from badger; when it is full the publisher
	// finds the entries in badger instead.
	live chan []Entry
	// builder packs segments for Append (the committer's, reused).
	builder *segBuilder
}

// Open counts the entries already queued (from before a restart).
func Open(st *store.Store, bound int, syncEveryCommit bool) (*Outbox, error) {
	o := &Outbox{st: st, db: st.DB(), max: int64(bound), sync: syncEveryCommit,
		notify: make(chan struct{}, 1), recorded: make(chan struct{}), live: make(chan []Entry, limits.LiveChunks),
		builder: newSegBuilder()}
	head, err := st.Int(store.KeyOutboxHead())
	if err != nil {
		return nil, err
	}
	acked, err := st.Int(store.KeyOutboxAcked())
	if err != nil {
		return nil, err
	}
	dropped, err := st.Int(store.KeyDropped())
	if err != nil {
		return nil, err
	}
	o.dropped.Store(dropped)
	o.ackedSeq.Store(acked)
	var depth int64
	err = o.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: store.PrefixOutbox(), PrefetchValues: true, PrefetchSize: 16})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			first, err := store.OutboxSeq(it.Item().Key())
			if err != nil {
				return err
			}
			var n int
			if err := it.Item().Value(func(v []byte) error { n, err = segmentCount(v); return err }); err != nil {
				return fmt.Errorf("segment %d: %w", first, err)
			}
			last := first + int64(n) - 1
			head = max(head, last)
			depth += max(0, last-max(first-1, acked))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	o.head = head
	o.depth.Store(depth)
	return o, nil
}

// Reserve takes one slot for a sample about to be decided; false means the
// queue is full (counted as dropped).
func (o *Outbox) Reserve() bool {
	if o.depth.Add(1) > o.max {
		o.depth.Add(-1)
		o.dropped.Add(1)
		return false
	}
	return true
}

// Release returns a slot taken by Reserve for a sample that was refused.
func (o *Outbox) Release() { o.depth.Add(-1) }

// Depth returns the entries queued or reserved.
func (o *Outbox) Depth() int64 { return o.depth.Load() }

// Dropped returns the samples refused because the queue was full, ever.
func (o *Outbox) Dropped() int64 { return o.dropped.Load() }

// Max returns the bound.
func (o *Outbox) Max() int64 { return o.max }

// Committed and Acked count entries written and acknowledged since start.
func (o *Outbox) Committed() int64 { return o.committed.Load() }

// Acked counts entries acknowledged by the broker and deleted since start.
func (o *Outbox) Acked() int64 { return o.acked.Load() }

// Notify receives after committed entries could not go through Live.
func (o *Outbox) Notify() <-chan struct{} { return o.notify }

// Append assigns entries their outbox sequences, packs them into segments
// of at most limits.SegmentBytes and sets those in txn; the caller commits
// txn (with whatever else belongs to the same samples) and then calls Done.
// Only the committer goroutine calls Append.
func (o *Outbox) Append(txn *badger.Txn, entries []Entry) error {
	b := o.builder
	for start := 0; start < len(entries); {
		b.reset()
		end := start
		for end < len(entries) && b.fits(&entries[end]) {
			b.add(&entries[end])
			end++
		}
		seg := entries[start:end]
		first := o.head + 1
		for i := range seg {
			seg[i].Seq, seg[i].Seg, seg[i].Last = first+int64(i), first, i == len(seg)-1
		}
		o.head += int64(len(seg))
		if err := txn.Set(store.KeyOutbox(first), b.encode(seg)); err != nil {
			return err
		}
		start = end
	}
	return store.SetInt(txn, store.KeyOutboxHead(), o.head)
}

// Rewind forgets sequences assigned in a transaction that failed.
func (o *Outbox) Rewind(head int64) { o.head = head }

// Head returns the last sequence assigned.
func (o *Outbox) Head() int64 { return o.head }

// Done records that entries (as given to Append) were committed: fsyncs
// if configured and hands them to the publisher.
func (o *Outbox) Done(entries []Entry) error {
	if err := o.Flush(); err != nil {
		return err
	}
	o.Hand(entries)
	return nil
}

// Flush makes every commit so far durable against power loss (fsync), if
// the outbox is configured to (sync_every_commit); one call covers all
// commits before it, which is what lets the pipeline fsync once for many
// commits.
func (o *Outbox) Flush() error {
	if !o.sync {
		return nil
	}
	return o.st.Flush()
}

// Flushes reports whether Flush fsyncs (sync_every_commit).
func (o *Outbox) Flushes() bool { return o.sync }

// Hand passes committed (and synced) entries to the publisher.
func (o *Outbox) Hand(entries []Entry) {
	o.committed.Add(int64(len(entries)))
	select {
	case o.live <- entries:
	default:
		// The publisher is behind: tell it to read from badger.
		select {
		case o.notify <- struct{}{}:
		default:
		}
	}
}

// Live returns the channel of freshly committed entries, in commit order.
func (o *Outbox) Live() <-chan []Entry { return o.live }

// DrainLive discards what waits in Live; a new publisher session reads
// everything from badger first.
func (o *Outbox) DrainLive() {
	for {
		select {
		case <-o.live:
		default:
			return
		}
	}
}

// Read returns the unacknowledged entries with sequence >= from, in
// order, whole segments at a time until at least n entries (or the end).
func (o *Outbox) Read(from int64, n int) ([]Entry, error) {
	from = max(from, o.ackedSeq.Load()+1)
	var out []Entry
	err := o.db.View(func(txn *badger.Txn) error {
		start, err := o.segmentAt(txn, from)
		if err != nil {
			return err
		}
		it := txn.NewIterator(badger.IteratorOptions{Prefix: store.PrefixOutbox(), PrefetchValues: true, PrefetchSize: 4})
		defer it.Close()
		for it.Seek(store.KeyOutbox(start)); it.Valid() && len(out) < n; it.Next() {
			es, err := readSegment(it.Item())
			if err != nil {
				return err
			}
			for _, e := range es {
				if e.Seq >= from {
					out = append(out, e)
				}
			}
		}
		return nil
	})
	return out, err
}

// segmentAt returns the first sequence of the segment holding seq (the
// last segment starting at or before it), or seq if there is none, so that
// a read does not walk the segments before it.
func (o *Outbox) segmentAt(txn *badger.Txn, seq int64) (int64, error) {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: store.PrefixOutbox(), Reverse: true})
	defer it.Close()
	// A reverse seek lands on the largest key <= the one given.
	it.Seek(store.KeyOutbox(seq))
	if !it.Valid() {
		return seq, nil
	}
	return store.OutboxSeq(it.Item().Key())
}

func readSegment(item *badger.Item) ([]Entry, error) {
	first, err := store.OutboxSeq(item.Key())
	if err != nil {
		return nil, err
	}
	if item.ValueSize() > limits.MaxStoredRecordBytes {
		return nil, fmt.Errorf("%w: segment %d is %d bytes", ErrCorrupt, first, item.ValueSize())
	}
	v, err := item.ValueCopy(nil)
	if err != nil {
		return nil, err
	}
	es, err := decodeSegment(first, v)
	if err != nil {
		return nil, fmt.Errorf("segment %d: %w", first, err)
	}
	return es, nil
}

// Acks accumulates acknowledged entries, in acknowledgement (= sequence)
// order, for one Record: how many, the highest sequence and the segments
// whose last entry is among them. It holds no payloads, so a publisher can
// keep collecting PUBACKs while the previous Record is being written.
type Acks struct {
	N    int64
	Top  int64
	Segs []int64
}

// Add counts one acknowledged entry.
func (a *Acks) Add(e Entry) {
	a.N++
	a.Top = e.Seq
	if e.Last {
		a.Segs = append(a.Segs, e.Seg)
	}
}

// Reset empties a for reuse.
func (a *Acks) Reset() { a.N, a.Top, a.Segs = 0, 0, a.Segs[:0] }

// Ack records acknowledged entries, given in acknowledgement order.
func (o *Outbox) Ack(acked []Entry) error {
	var a Acks
	for _, e := range acked {
		a.Add(e)
	}
	return o.Record(&a)
}

// Record writes acknowledgements in one write batch: it deletes the
// segments they complete and moves the acknowledged watermark.
func (o *Outbox) Record(a *Acks) error {
	if a.N == 0 {
		return nil
	}
	wb := o.db.NewWriteBatch()
	defer wb.Cancel()
	for _, seg := range a.Segs {
		if err := wb.Delete(store.KeyOutbox(seg)); err != nil {
			return err
		}
	}
	if err := wb.Set(store.KeyOutboxAcked(), binary.BigEndian.AppendUint64(nil, uint64(a.Top))); err != nil {
		return err
	}
	if err := wb.Flush(); err != nil {
		return err
	}
	if a.Top > o.ackedSeq.Load() {
		o.ackedSeq.Store(a.Top)
	}
	o.depth.Add(-a.N)
	o.acked.Add(a.N)
	o.recordedMu.Lock()
	close(o.recorded)
	o.recorded = make(chan struct{})
	o.recordedMu.Unlock()
	return nil
}

// Recorded returns a channel that is closed when acknowledgements are next
// recorded: read it, then check Acked, then wait on it, and no Record is
// missed.
func (o *Outbox) Recorded() <-chan struct{} {
	o.recordedMu.Lock()
	defer o.recordedMu.Unlock()
	return o.recorded
}

// PersistDropped writes the dropped counter inside txn.
func (o *Outbox) PersistDropped(txn *badger.Txn) error {
	return store.SetInt(txn, store.KeyDropped(), o.dropped.Load())
}
