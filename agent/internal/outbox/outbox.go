// Package outbox is the agent's own store-and-forward queue, in badger (not
// paho's file store, which renames without fsync; DEPENDENCIES.md).
//
// An entry is written in the same transaction as the counters it moves
// (sample sequence, hourly bucket), before the sample is acknowledged to
// whoever submitted it; it is deleted only after the broker's PUBACK. The
// queue is bounded: Reserve refuses a slot when the bound is reached and
// counts the refusal as dropped, so nothing that was accepted is ever
// evicted.
package outbox

import (
	"encoding/binary"
	"errors"
	"fmt"
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
}

// Outbox is the queue. Commit is called by one goroutine (the committer),
// Read and Ack by another (the publisher); Reserve/Release by any.
type Outbox struct {
	st        *store.Store
	db        *badger.DB
	max       int64
	sync      bool
	head      int64
	depth     atomic.Int64
	dropped   atomic.Int64
	committed atomic.Int64
	acked     atomic.Int64
	notify    chan struct{}
	// live carries freshly committed entries to the publisher so that it
	// need not read them back from badger; when it is full the publisher
	// finds the entries in badger instead.
	live chan []Entry
}

// Open counts the entries already queued (from before a restart).
func Open(st *store.Store, bound int, syncEveryCommit bool) (*Outbox, error) {
	o := &Outbox{st: st, db: st.DB(), max: int64(bound), sync: syncEveryCommit, notify: make(chan struct{}, 1), live: make(chan []Entry, limits.LiveChunks)}
	head, err := st.Int(store.KeyOutboxHead())
	if err != nil {
		return nil, err
	}
	dropped, err := st.Int(store.KeyDropped())
	if err != nil {
		return nil, err
	}
	o.dropped.Store(dropped)
	var n int64
	err = o.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: store.PrefixOutbox()})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			seq, err := store.OutboxSeq(it.Item().Key())
			if err != nil {
				return err
			}
			head = max(head, seq)
			n++
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	o.head = head
	o.depth.Store(n)
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

// Append assigns entries their outbox sequences and sets them in txn; the
// caller commits txn (with whatever else belongs to the same samples) and
// then calls Committed. Only the committer goroutine calls Append.
func (o *Outbox) Append(txn *badger.Txn, entries []Entry) error {
	for i := range entries {
		o.head++
		entries[i].Seq = o.head
		if err := txn.Set(store.KeyOutbox(o.head), encode(entries[i])); err != nil {
			return err
		}
	}
	return store.SetInt(txn, store.KeyOutboxHead(), o.head)
}

// Rewind forgets sequences assigned in a transaction that failed.
func (o *Outbox) Rewind(head int64) { o.head = head }

// Head returns the last sequence assigned.
func (o *Outbox) Head() int64 { return o.head }

// Done records that entries (as given to Append) were committed: fsyncs if
// configured and hands them to the publisher.
func (o *Outbox) Done(entries []Entry) error {
	if o.sync {
		if err := o.st.Sync(); err != nil {
			return err
		}
	}
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
	return nil
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

// Read returns up to n entries with sequence >= from, in order.
func (o *Outbox) Read(from int64, n int) ([]Entry, error) {
	out := make([]Entry, 0, n)
	err := o.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: store.PrefixOutbox(), PrefetchValues: true, PrefetchSize: n})
		defer it.Close()
		for it.Seek(store.KeyOutbox(from)); it.Valid() && len(out) < n; it.Next() {
			item := it.Item()
			seq, err := store.OutboxSeq(item.Key())
			if err != nil {
				return err
			}
			if item.ValueSize() > limits.MaxStoredRecordBytes {
				return fmt.Errorf("%w: entry %d is %d bytes", ErrCorrupt, seq, item.ValueSize())
			}
			v, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			e, err := decode(v)
			if err != nil {
				return fmt.Errorf("entry %d: %w", seq, err)
			}
			e.Seq = seq
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

// Ack deletes acknowledged entries in one write batch.
func (o *Outbox) Ack(seqs []int64) error {
	if len(seqs) == 0 {
		return nil
	}
	wb := o.db.NewWriteBatch()
	defer wb.Cancel()
	for _, s := range seqs {
		if err := wb.Delete(store.KeyOutbox(s)); err != nil {
			return err
		}
	}
	if err := wb.Flush(); err != nil {
		return err
	}
	o.depth.Add(-int64(len(seqs)))
	o.acked.Add(int64(len(seqs)))
	return nil
}

// PersistDropped writes the dropped counter inside txn.
func (o *Outbox) PersistDropped(txn *badger.Txn) error {
	return store.SetInt(txn, store.KeyDropped(), o.dropped.Load())
}

// encode lays an entry out as: topic length (2 bytes), topic, payload.
func encode(e Entry) []byte {
	b := make([]byte, 0, 2+len(e.Topic)+len(e.Payload))
	b = binary.BigEndian.AppendUint16(b, uint16(len(e.Topic)))
	b = append(b, e.Topic...)
	return append(b, e.Payload...)
}

func decode(b []byte) (Entry, error) {
	if len(b) < 2 {
		return Entry{}, fmt.Errorf("%w: %d bytes", ErrCorrupt, len(b))
	}
	n := int(binary.BigEndian.Uint16(b))
	if n == 0 || len(b) < 2+n {
		return Entry{}, fmt.Errorf("%w: topic length %d of %d bytes", ErrCorrupt, n, len(b))
	}
	return Entry{Topic: string(b[2 : 2+n]), Payload: b[2+n:]}, nil
}
