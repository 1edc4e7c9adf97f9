package outbox

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/klauspost/compress/s2"

	"github.com/tollgate-iot/tollgate/agent/internal/limits"
	"github.com/tollgate-iot/tollgate/agent/internal/store"
	"github.com/tollgate-iot/tollgate/shared/wire"
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

func commit(t *testing.T, o *Outbox, st *store.Store, n, size int) []Entry {
	t.Helper()
	es := make([]Entry, n)
	for i := range es {
		es[i] = Entry{Topic: "a/b", Payload: []byte(strings.Repeat("x", size-1) + string(rune('a'+i%26)))}
	}
	if err := st.DB().Update(func(txn *badger.Txn) error { return o.Append(txn, es) }); err != nil {
		t.Fatal(err)
	}
	if err := o.Done(es); err != nil {
		t.Fatal(err)
	}
	return es
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
	commit(t, o, st, 3, 10)
	es, err := o.Read(0, 10)
	if err != nil || len(es) != 3 || es[0].Seq != 1 || es[2].Payload[9] != 'c' || es[1].Topic != "a/b" || !es[2].Last || es[2].Seg != 1 {
		t.Fatalf("read = %+v, %v", es, err)
	}
	if err := o.Ack(es[:1]); err != nil {
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
	if err := o.Ack(es); err != nil {
		t.Fatal(err)
	}
	commit(t, o, st, 1, 10)
	if es, _ := o.Read(0, 10); len(es) != 1 || es[0].Seq != 4 {
		t.Fatalf("sequence reused after restart or acked segment kept: %+v", es)
	}
}

func TestSegments(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	o, _ := Open(st, 1000, false)
	// 20 entries of ~10 KiB: several segments of at most SegmentBytes.
	es := commit(t, o, st, 20, 10<<10)
	segs := map[int64]int{}
	for _, e := range es {
		segs[e.Seg]++
	}
	if len(segs) < 4 {
		t.Fatalf("%d segments for 200 KiB", len(segs))
	}
	for first, n := range segs {
		if n*(10<<10) > limits.SegmentBytes {
			t.Fatalf("segment %d holds %d entries", first, n)
		}
	}
	got, err := o.Read(5, 1)
	if err != nil || got[0].Seq != 5 {
		t.Fatalf("read from 5: %+v %v", got, err)
	}
}

// flat builds a segment in the format without heads.
func flat(es ...Entry) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(es)))
	for _, e := range es {
		b = binary.BigEndian.AppendUint16(b, uint16(len(e.Topic)))
		b = append(b, e.Topic...)
		b = binary.BigEndian.AppendUint32(b, uint32(len(e.Payload)))
		b = append(b, e.Payload...)
	}
	return b
}

// plainSegment is es encoded without compression.
func plainSegment(es []Entry) []byte {
	b := newSegBuilder()
	for i := range es {
		b.add(&es[i])
	}
	return b.encodePlain(es, nil)
}

// compressed returns plain (a segment with heads) S2-compressed, however
// little that saves.
func compressed(plain []byte) []byte {
	out := binary.BigEndian.AppendUint32(nil, binary.BigEndian.Uint32(plain)|segS2)
	return append(out, s2.Encode(nil, plain[segHeader:])...)
}

func TestDecodeSegment(t *testing.T) {
	good := plainSegment([]Entry{{Topic: "t", Payload: []byte("hp"), Head: 1}, {Topic: "u", Payload: nil}})
	goodS2 := compressed(good)
	// A compressed body that claims to decompress to 1 MiB.
	huge := append(binary.BigEndian.AppendUint32(nil, 2|segFlags), binary.AppendUvarint(nil, 1<<20)...)
	huge = append(huge, 0, 0, 0)
	// Two heads, the second used first: not the encoder's order.
	outOfOrder := []byte{0x80, 0, 0, 2, 0, 2, 0, 1, 't', 0, 0, 0, 1, 'u', 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	repeated := []byte{0x80, 0, 0, 2, 0, 2, 0, 1, 't', 0, 0, 0, 1, 't', 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0}
	unused := []byte{0x80, 0, 0, 2, 0, 2, 0, 1, 't', 0, 0, 0, 1, 'u', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	tests := []struct {
		name string
		b    []byte
		ok   bool
	}{
		{"ok", good, true},
		{"ok/flat", flat(Entry{Topic: "t", Payload: []byte("hp")}, Entry{Topic: "u"}), true},
		{"ok/compressed", goodS2, true},
		{"error/compressed-truncated", goodS2[:len(goodS2)-2], false},
		{"error/compressed-garbage", append(binary.BigEndian.AppendUint32(nil, 2|segFlags), 9, 0xff, 1, 2), false},
		{"error/compressed-empty", binary.BigEndian.AppendUint32(nil, 2|segFlags), false},
		{"error/compressed-too-large", huge, false},
		{"error/compressed-without-heads", append(binary.BigEndian.AppendUint32(nil, 2|segS2), goodS2[segHeader:]...), false},
		{"error/short", []byte{0, 0}, false},
		{"error/zero-count", []byte{0, 0, 0, 0}, false},
		{"error/zero-count-heads", []byte{0x80, 0, 0, 0}, false},
		{"error/truncated", good[:len(good)-3], false},
		{"error/trailing", append(append([]byte(nil), good...), 0), false},
		{"error/flat-trailing", append(flat(Entry{Topic: "t"}, Entry{Topic: "u"}), 0), false},
		{"error/zero-topic", []byte{0, 0, 0, 1, 0, 0, 0, 0, 0, 0}, false},
		{"error/no-heads", []byte{0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}, false},
		{"error/heads-out-of-order", outOfOrder, false},
		{"error/head-repeated", repeated, false},
		{"error/head-unused", unused, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			es, err := decodeSegment(7, tt.b)
			if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrCorrupt)) {
				t.Fatalf("decode = %v", err)
			}
			if err == nil && (len(es) != 2 || es[1].Seq != 8 || !es[1].Last || es[0].Last ||
				string(es[0].Payload) != "hp" || es[0].Topic != "t" || es[1].Topic != "u" || len(es[1].Payload) != 0) {
				t.Fatalf("entries %+v", es)
			}
		})
	}
}

func TestSegmentStoresAHeadOnce(t *testing.T) {
	head := strings.Repeat("h", 100)
	var es []Entry
	for i := 0; i < 100; i++ {
		es = append(es, Entry{Topic: "a/b", Payload: []byte(head + strings.Repeat("t", 10)), Head: len(head)})
	}
	es[50].Topic = "a/c" // a second device: a second head
	plain := plainSegment(es)
	if want := segHeader + headsHeader + 2*(headHeader+3+100) + 100*(entryHeader+10); len(plain) != want {
		t.Fatalf("segment is %d bytes, want %d", len(plain), want)
	}
	b := encodeSegment(es)
	if binary.BigEndian.Uint32(b)&segS2 == 0 || len(b) >= len(plain) {
		t.Fatalf("stored segment: %d bytes, flags %#x (plain %d)", len(b), binary.BigEndian.Uint32(b)&segFlags, len(plain))
	}
	got, err := decodeSegment(1, b)
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		if got[i].Topic != es[i].Topic || string(got[i].Payload) != string(es[i].Payload) || got[i].Head != 100 {
			t.Fatalf("entry %d = %+v", i, got[i])
		}
	}
}

// TestTelemetrySegmentsAreStoredCompressed: envelopes of one device whose
// readings change from sample to sample still compress several times.
func TestTelemetrySegmentsAreStoredCompressed(t *testing.T) {
	head := wire.TelemetryHead("press-01", "acme", "3f0e4a1c-5b6d-4e7f-8a9b-0c1d2e3f4a5b")
	rng := rand.New(rand.NewPCG(1, 2))
	var es []Entry
	var ts wire.TSFormatter
	for i := 0; i < 200; i++ {
		data := fmt.Appendf(nil, `{"temperature":%.2f,"humidity":%.2f,"pressure":%.1f,"rpm":%d}`,
			15+10*rng.Float64(), 30+40*rng.Float64(), 990+40*rng.Float64(), rng.IntN(3000))
		p := wire.AppendTelemetryTailTS(append([]byte(nil), head...), &ts, int64(i+1), 1795000000e9+int64(i)*int64(time.Second)+rng.Int64N(1e9), "", false, data)
		es = append(es, Entry{Topic: wire.TelemetryTopic("acme", "press-01"), Payload: p, Head: len(head)})
	}
	plain, stored := plainSegment(es), encodeSegment(es)
	var payload int
	for _, e := range es {
		payload += len(e.Payload)
	}
	t.Logf("200 envelopes: %d bytes; segment %d plain, %d stored", payload, len(plain), len(stored))
	if len(stored)*2 > len(plain) {
		t.Fatalf("stored segment is %d bytes, more than half of %d", len(stored), len(plain))
	}
	got, err := decodeSegment(1, stored)
	if err != nil || len(got) != len(es) {
		t.Fatalf("decode: %d entries, %v", len(got), err)
	}
	for i := range got {
		if !bytes.Equal(got[i].Payload, es[i].Payload) || got[i].Topic != es[i].Topic {
			t.Fatalf("entry %d changed", i)
		}
	}
}

func FuzzDecodeSegment(f *testing.F) {
	f.Add(encodeSegment([]Entry{{Topic: "t", Payload: []byte("hp"), Head: 1}, {Topic: "t", Payload: []byte("hq"), Head: 1}}))
	f.Add(flat(Entry{Topic: "t", Payload: []byte("p")}))
	f.Add(compressed(plainSegment([]Entry{{Topic: "t", Payload: []byte("hp"), Head: 1}})))
	f.Add([]byte{0, 0, 0, 1, 0, 9, 't'})
	f.Fuzz(func(t *testing.T, b []byte) {
		es, err := decodeSegment(1, b)
		if err != nil {
			return
		}
		// The uncompressed form is unique; S2 streams are not, so a
		// compressed input is compared after decompressing it.
		plain := b
		if binary.BigEndian.Uint32(b)&segS2 != 0 {
			if plain, err = decompress(b); err != nil {
				t.Fatalf("decoded but does not decompress: %v", err)
			}
		}
		if binary.BigEndian.Uint32(b)&segHeads != 0 && !bytes.Equal(plainSegment(es), plain) {
			t.Fatal("decode/encode do not round trip")
		}
		enc := encodeSegment(es)
		again, err := decodeSegment(1, enc)
		if err != nil || len(again) != len(es) {
			t.Fatalf("re-encoded segment: %v", err)
		}
		for i := range es {
			if again[i].Topic != es[i].Topic || !bytes.Equal(again[i].Payload, es[i].Payload) || again[i].Seq != es[i].Seq {
				t.Fatalf("entry %d changed: %+v, %+v", i, again[i], es[i])
			}
		}
	})
}

func TestReadSeeksToTheSegment(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	o, _ := Open(st, 100000, false)
	for i := 0; i < 50; i++ {
		commit(t, o, st, 100, 100) // 50 segments of 100 entries
	}
	tests := []struct {
		name      string
		from      int64
		wantFirst int64
	}{
		{"ok/start", 0, 1},
		{"ok/segment-start", 201, 201},
		{"ok/mid-segment", 250, 250},
		{"ok/last", 5000, 5000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			es, err := o.Read(tt.from, 1)
			if err != nil || len(es) == 0 || es[0].Seq != tt.wantFirst {
				t.Fatalf("Read(%d) = %d entries (%+v), %v", tt.from, len(es), es, err)
			}
		})
	}
	if es, _ := o.Read(5001, 10); len(es) != 0 {
		t.Fatalf("read past the head: %d entries", len(es))
	}
}

func TestRecordedSignalsEveryRecord(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	o, _ := Open(st, 100, false)
	es := commit(t, o, st, 3, 10)
	rec := o.Recorded()
	select {
	case <-rec:
		t.Fatal("signalled before any record")
	default:
	}
	if err := o.Ack(es[:2]); err != nil {
		t.Fatal(err)
	}
	select {
	case <-rec:
	default:
		t.Fatal("Record did not signal")
	}
	if o.Acked() != 2 {
		t.Fatalf("acked=%d after the signal", o.Acked())
	}
	next := o.Recorded()
	select {
	case <-next:
		t.Fatal("the next signal fired early")
	default:
	}
	if err := o.Ack(es[2:]); err != nil {
		t.Fatal(err)
	}
	<-next
}
