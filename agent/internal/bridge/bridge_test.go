package bridge

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync/atomic"
	"testing"

	badger "github.com/dgraph-io/badger/v4"
	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/tollgate-iot/tollgate/agent/internal/store"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// msg is an MQTT message as paho hands it to the handler.
type msg struct {
	topic   string
	id      uint16
	dup     bool
	payload []byte
	acked   *atomic.Int64
}

func (m msg) Duplicate() bool   { return m.dup }
func (m msg) Qos() byte         { return 1 }
func (m msg) Retained() bool    { return false }
func (m msg) Topic() string     { return m.topic }
func (m msg) MessageID() uint16 { return m.id }
func (m msg) Payload() []byte   { return m.payload }
func (m msg) Ack()              { m.acked.Add(1) }

// committer stands in for the ingest pipeline on a real store: it assigns
// each accepted sample the next seq and writes the marks in the same
// badger transaction, as ingest.SubmitMarked does.
type committer struct {
	st        *store.Store
	seq       int64
	committed []wire.Sample
}

func (c *committer) SubmitMarked(_ context.Context, samples []wire.Sample, marks [][]byte) ([]wire.Result, error) {
	res := make([]wire.Result, len(samples))
	err := c.st.DB().Update(func(txn *badger.Txn) error {
		for i := range samples {
			res[i] = wire.Result{Accepted: true, Seq: c.seq + int64(i) + 1}
			if err := store.SetInt(txn, marks[i], res[i].Seq); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	c.seq += int64(len(samples))
	c.committed = append(c.committed, samples...)
	return res, nil
}

func openStore(t *testing.T, dir string) *store.Store {
	t.Helper()
	k := sha256.Sum256([]byte("bridge"))
	st, err := store.Open(context.Background(), store.Options{Dir: dir, Key: k[:]})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestRedeliveryAfterRestart: messages committed by one bridge and then
// redelivered (same topic, packet id and payload) to a new bridge on the
// same store are acknowledged without a new commit; a new message with a
// reused packet id but another payload is committed; a duplicate inside one
// batch is committed once.
func TestRedeliveryAfterRestart(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	var acked atomic.Int64
	m := func(id uint16, k int, dup bool) msg {
		return msg{topic: ChildTopic("child-1"), id: id, dup: dup, payload: fmt.Appendf(nil, `{"data":{"k":%d}}`, k), acked: &acked}
	}
	ing := &committer{st: st}
	b := New(Options{Ingest: ing, Store: st})
	if err := b.loadSeen(); err != nil {
		t.Fatal(err)
	}
	if !b.submit(context.Background(), []mqtt.Message{m(1, 1, false), m(2, 2, false), m(2, 2, true)}) {
		t.Fatal("submit refused")
	}
	if len(ing.committed) != 2 || b.Redelivered() != 1 || acked.Load() != 3 {
		t.Fatalf("first batch: %d committed, %d redelivered, %d acked; want 2, 1, 3", len(ing.committed), b.Redelivered(), acked.Load())
	}
	st.Close() // the agent stops before the broker got the PUBACKs

	st = openStore(t, dir)
	defer st.Close()
	ing.st = st
	b = New(Options{Ingest: ing, Store: st})
	if err := b.loadSeen(); err != nil {
		t.Fatal(err)
	}
	b.submit(context.Background(), []mqtt.Message{m(1, 1, true), m(2, 2, true), m(1, 3, false)})
	if len(ing.committed) != 3 || ing.seq != 3 || b.Redelivered() != 2 {
		t.Fatalf("after restart: %d committed (seq %d), %d redelivered; want 3 (3), 2", len(ing.committed), ing.seq, b.Redelivered())
	}
	if string(ing.committed[2].Data) != `{"k":3}` {
		t.Fatalf("third commit = %s", ing.committed[2].Data)
	}
}

// TestEvictKeepsTheNewest: past seenKeep + a quarter, the oldest records go,
// from memory and from the store, and a restart loads the newest seenKeep.
func TestEvictKeepsTheNewest(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	var acked atomic.Int64
	ing := &committer{st: st}
	b := New(Options{Ingest: ing, Store: st})
	total := seenKeep + seenKeep/4 + 1
	batch := make([]mqtt.Message, 0, 500)
	for k := 0; k < total; k++ {
		batch = append(batch, msg{topic: ChildTopic("child-1"), id: uint16(k), payload: fmt.Appendf(nil, `{"data":{"k":%d}}`, k), acked: &acked})
		if len(batch) == cap(batch) || k == total-1 {
			b.submit(context.Background(), batch)
			batch = batch[:0]
		}
	}
	if len(b.fifo) != seenKeep || len(b.seen) != seenKeep || b.fifo[0].N != int64(total-seenKeep+1) {
		t.Fatalf("in memory: %d records, %d indexed, oldest %d", len(b.fifo), len(b.seen), b.fifo[0].N)
	}
	recs, err := st.BridgeSeenRecords(2 * seenKeep)
	if err != nil || len(recs) != seenKeep || recs[0].N != int64(total-seenKeep+1) {
		t.Fatalf("in the store: %d records (%v), oldest %+v", len(recs), err, recs[0])
	}
	st.Close()
}
