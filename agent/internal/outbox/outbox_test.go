package outbox

import (
	"context"
	"crypto/sha256"
	"errors"
	"testing"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/tollgate-iot/tollgate/agent/internal/store"
)

func openStore(t *testing.T, dir string) *store.Store {
	t.Helper()
	k := sha256.Sum256([]byte("k"))
	s, err := store.Open(context.Background(), store.Options{Dir: dir, Key: k[:]})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func commit(t *testing.T, o *Outbox, st *store.Store, n int) {
	t.Helper()
	es := make([]Entry, n)
	for i := range es {
		es[i] = Entry{Topic: "a/b", Payload: []byte{byte(i)}}
	}
	if err := st.DB().Update(func(txn *badger.Txn) error { return o.Append(txn, es) }); err != nil {
		t.Fatal(err)
	}
	if err := o.Done(es); err != nil {
		t.Fatal(err)
	}
}

func TestBoundAckAndRestart(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	o, err := Open(st, 3, true)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if !o.Reserve() {
			t.Fatalf("reserve %d refused", i)
		}
	}
	if o.Reserve() || o.Dropped() != 1 {
		t.Fatalf("reserve past the bound: dropped=%d", o.Dropped())
	}
	commit(t, o, st, 3)
	es, err := o.Read(0, 10)
	if err != nil || len(es) != 3 || es[0].Seq != 1 || es[2].Payload[0] != 2 || es[1].Topic != "a/b" {
		t.Fatalf("read = %+v, %v", es, err)
	}
	if err := o.Ack([]int64{1}); err != nil {
		t.Fatal(err)
	}
	st.DB().Update(o.PersistDropped)
	st.Close()

	st = openStore(t, dir)
	defer st.Close()
	o, err = Open(st, 3, false)
	if err != nil {
		t.Fatal(err)
	}
	if o.Depth() != 2 || o.Dropped() != 1 || o.Head() != 3 {
		t.Fatalf("after restart depth=%d dropped=%d head=%d", o.Depth(), o.Dropped(), o.Head())
	}
	es, _ = o.Read(0, 10)
	if len(es) != 2 || es[0].Seq != 2 {
		t.Fatalf("after restart read %+v", es)
	}
	commit(t, o, st, 1)
	if es, _ := o.Read(3, 10); len(es) != 2 || es[1].Seq != 4 {
		t.Fatalf("sequence reused after restart: %+v", es)
	}
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name string
		b    []byte
		ok   bool
	}{
		{"ok", encode(Entry{Topic: "t", Payload: []byte("p")}), true},
		{"error/short", []byte{1}, false},
		{"error/zero-topic", []byte{0, 0, 'p'}, false},
		{"error/topic-past-end", []byte{0, 9, 't'}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decode(tt.b)
			if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrCorrupt)) {
				t.Fatalf("decode = %v", err)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(encode(Entry{Topic: "t", Payload: []byte("p")}))
	f.Add([]byte{0, 9, 't'})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := decode(b)
		if err == nil && string(encode(e)) != string(b) {
			t.Fatal("decode/encode do not round trip")
		}
	})
}
