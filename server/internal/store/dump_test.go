package store_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/server/internal/store"
	"github.com/tollgate-iot/tollgate/shared/clock"
)

// dumpEpoch is the fake clock's time for every dump written here.
var dumpEpoch = time.Date(2026, 12, 4, 18, 0, 0, 0, time.UTC)

// fillDump writes n ordinary records and some awkward ones: an empty
// value, keys holding 0x00 and 0xff bytes, a value of 200 KiB.
func fillDump(t testing.TB, db *store.DB, n int) {
	t.Helper()
	for start := 0; start < n; start += 500 {
		if err := db.Update(func(x *store.Txn) error {
			for i := start; i < min(n, start+500); i++ {
				if err := x.Put(fmt.Appendf(nil, "k/%06d", i), bytes.Repeat([]byte{byte(i)}, 40+i%60)); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Update(func(x *store.Txn) error {
		for k, v := range map[string][]byte{
			"a/empty":        {},
			"\x00zero":       []byte("starts with 0x00"),
			"z/\xff\xff\xff": []byte("ends with 0xff"),
			"m/large":        bytes.Repeat([]byte("0123456789abcdef"), 200<<10/16),
		} {
			if err := x.Put([]byte(k), v); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func dumpOf(t testing.TB, db *store.DB) ([]byte, store.DumpInfo) {
	t.Helper()
	var buf bytes.Buffer
	info, err := db.Dump(context.Background(), &buf, clock.NewFake(dumpEpoch))
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), info
}

func digest(t testing.TB, db *store.DB) store.DumpInfo {
	t.Helper()
	info, err := db.Digest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func sameContent(a, b store.DumpInfo) bool {
	return a.Records == b.Records && a.Bytes == b.Bytes && a.Digest == b.Digest
}

// TestDumpLoadRoundTrip: a dump of either engine loads into either engine,
// and the target then holds exactly the source's pairs (count, bytes and
// digest over every pair in key order, read back from both stores).
func TestDumpLoadRoundTrip(t *testing.T) {
	const n = 1500 // several PostgreSQL scan pages and load batches
	for _, src := range engines {
		for _, dst := range engines {
			t.Run(src.name+"-to-"+dst.name, func(t *testing.T) {
				from := src.open(t)
				fillDump(t, from, n)
				file, info := dumpOf(t, from)
				if info.Engine != src.name || !info.Created.Equal(dumpEpoch) || info.Records != n+4 {
					t.Fatalf("dump info %+v: want engine %s, created %v, %d records", info, src.name, dumpEpoch, n+4)
				}
				to := dst.open(t)
				loaded, err := to.Load(context.Background(), bytes.NewReader(file))
				if err != nil {
					t.Fatal(err)
				}
				want := digest(t, from)
				if !sameContent(info, want) || !sameContent(loaded, want) || !sameContent(digest(t, to), want) {
					t.Fatalf("source %+v, dump %+v, loaded %+v, target %+v", want, info, loaded, digest(t, to))
				}
				if loaded.Engine != src.name || !loaded.Created.Equal(dumpEpoch) {
					t.Fatalf("loaded header %+v", loaded)
				}
				if err := to.View(func(x *store.Txn) error {
					v, err := x.Get([]byte("a/empty"))
					if err != nil || len(v) != 0 {
						return fmt.Errorf("a/empty = %q, %v", v, err)
					}
					v, err = x.Get([]byte("m/large"))
					if err != nil || len(v) != 200<<10 {
						return fmt.Errorf("m/large has %d bytes, %v", len(v), err)
					}
					return nil
				}); err != nil {
					t.Fatal(err)
				}
				// The target works as a store afterwards.
				if err := to.Update(func(x *store.Txn) error { return x.Put([]byte("k/new"), []byte("after")) }); err != nil {
					t.Fatalf("write after load: %v", err)
				}
			})
		}
	}
}

// snapshotWriter runs during on its first write: Dump has started reading
// by then, so what during writes must not appear in the dump.
type snapshotWriter struct {
	buf    bytes.Buffer
	during func()
}

func (w *snapshotWriter) Write(p []byte) (int, error) {
	if w.during != nil {
		w.during()
		w.during = nil
	}
	return w.buf.Write(p)
}

// TestDumpIsOneSnapshot: writes committed while a dump runs (an early key
// changed, a late key deleted, a later key added) are not in it: the dump
// is the store as it was when the dump began.
func TestDumpIsOneSnapshot(t *testing.T) {
	forEngines(t, func(t *testing.T, db *store.DB) {
		fillDump(t, db, 3000) // well over the dump's 64 KiB buffer: it writes mid-scan
		before := digest(t, db)
		w := &snapshotWriter{during: func() {
			if err := db.Update(func(x *store.Txn) error {
				if err := x.Put([]byte("k/000000"), []byte("changed")); err != nil {
					return err
				}
				if err := x.Delete([]byte("k/002999")); err != nil {
					return err
				}
				return x.Put([]byte("k/999999"), []byte("added"))
			}); err != nil {
				t.Error(err)
			}
		}}
		if _, err := db.Dump(context.Background(), w, clock.NewFake(dumpEpoch)); err != nil {
			t.Fatal(err)
		}
		if w.during != nil {
			t.Fatal("the dump wrote nothing before it ended: the test did not write during it")
		}
		to := engines[0].open(t)
		loaded, err := to.Load(context.Background(), &w.buf)
		if err != nil {
			t.Fatal(err)
		}
		if !sameContent(loaded, before) {
			t.Fatalf("dump holds %+v, the store before it %+v: writes made during the dump leaked in", loaded, before)
		}
		if sameContent(digest(t, db), before) {
			t.Fatal("the writes during the dump did not happen")
		}
	})
}

// rawDump builds dump bytes by hand, for the files Dump never writes.
type rawDump struct {
	version uint16
	engine  string
	created int64
	records [][2]string
	count   int64 // -1: the true count
	extra   []byte
	badSum  bool
}

func (r rawDump) bytes() []byte {
	b := []byte("TGLEDGER")
	b = binary.BigEndian.AppendUint16(b, r.version)
	b = append(b, byte(len(r.engine)))
	b = append(b, r.engine...)
	b = binary.BigEndian.AppendUint64(b, uint64(r.created))
	for _, kv := range r.records {
		b = append(b, 1)
		b = binary.BigEndian.AppendUint32(b, uint32(len(kv[0])))
		b = binary.BigEndian.AppendUint32(b, uint32(len(kv[1])))
		b = append(b, kv[0]...)
		b = append(b, kv[1]...)
	}
	count := r.count
	if count < 0 {
		count = int64(len(r.records))
	}
	b = append(b, 0)
	b = binary.BigEndian.AppendUint64(b, uint64(count))
	sum := sha256.Sum256(b)
	if r.badSum {
		sum[0] ^= 1
	}
	return append(append(b, sum[:]...), r.extra...)
}

func goodRaw() rawDump {
	return rawDump{version: store.DumpVersion, engine: "badger", created: dumpEpoch.UnixNano(),
		records: [][2]string{{"a", "1"}, {"b", ""}, {"c", "starts with 0x00"}}, count: -1}
}

// oversized is a dump whose second record claims a value over the limit.
func oversized() []byte {
	b := rawDump{version: store.DumpVersion, engine: "badger", created: dumpEpoch.UnixNano(), records: [][2]string{{"a", "1"}}, count: -1}.bytes()
	b = b[:len(b)-9-32] // drop the trailer
	b = append(b, 1)
	b = binary.BigEndian.AppendUint32(b, 1)
	b = binary.BigEndian.AppendUint32(b, store.MaxDumpValueBytes+1)
	return append(b, 'b')
}

// damagedDumps are the files Load must refuse, with the error each gets.
func damagedDumps(t testing.TB, good []byte) []struct {
	name string
	file []byte
	want error
} {
	flipped := bytes.Clone(good)
	at := bytes.Index(flipped, []byte("starts with 0x00"))
	if at < 0 {
		t.Fatal("the dump does not hold the value the bit-flip case alters")
	}
	flipped[at+3] ^= 0x40 // inside a record's value
	withRaw := func(f func(*rawDump)) []byte { r := goodRaw(); f(&r); return r.bytes() }
	return []struct {
		name string
		file []byte
		want error
	}{
		{"empty-file", nil, store.ErrDumpTruncated},
		{"truncated-header", good[:12], store.ErrDumpTruncated},
		{"truncated-mid-record", good[:len(good)/2], store.ErrDumpTruncated},
		{"truncated-before-trailer", good[:len(good)-9-32], store.ErrDumpTruncated},
		{"truncated-mid-checksum", good[:len(good)-5], store.ErrDumpTruncated},
		{"bit-flip", flipped, store.ErrDumpChecksum},
		{"bad-checksum", withRaw(func(r *rawDump) { r.badSum = true }), store.ErrDumpChecksum},
		{"not-a-dump", []byte("PGDMP\x01\x0e\x00 some other program's file"), store.ErrDumpNotADump},
		{"future-version", withRaw(func(r *rawDump) { r.version = store.DumpVersion + 1 }), store.ErrDumpVersion},
		{"version-zero", withRaw(func(r *rawDump) { r.version = 0 }), store.ErrDumpVersion},
		{"oversized-value", oversized(), store.ErrDumpRecordTooBig},
		{"keys-out-of-order", withRaw(func(r *rawDump) { r.records[0], r.records[1] = r.records[1], r.records[0] }), store.ErrDumpCorrupt},
		{"duplicate-key", withRaw(func(r *rawDump) { r.records[1][0] = "a" }), store.ErrDumpCorrupt},
		{"empty-key", withRaw(func(r *rawDump) { r.records[0][0] = "" }), store.ErrDumpCorrupt},
		{"count-too-high", withRaw(func(r *rawDump) { r.count = 4 }), store.ErrDumpCorrupt},
		{"bytes-after-trailer", withRaw(func(r *rawDump) { r.extra = []byte{0} }), store.ErrDumpCorrupt},
		{"bad-engine-name", withRaw(func(r *rawDump) { r.engine = "Bad Name" }), store.ErrDumpCorrupt},
		{"created-before-1970", withRaw(func(r *rawDump) { r.created = -1 }), store.ErrDumpCorrupt},
	}
}

// TestLoadRefusesDamagedDumps: a truncated, altered, foreign,
// future-version, oversized or malformed file is refused with its named
// error on either engine, and the target is left empty — also when the
// damage is found only after thousands of records went in.
func TestLoadRefusesDamagedDumps(t *testing.T) {
	src := engines[0].open(t)
	fillDump(t, src, 3000)
	good, _ := dumpOf(t, src)
	if !bytes.Equal(goodRaw().bytes(), rebuild(t, goodRaw().bytes())) {
		t.Fatal("the hand-built dump is not what DumpWriter writes: the table below would test another format")
	}
	forEngines(t, func(t *testing.T, db *store.DB) {
		for _, tc := range damagedDumps(t, good) {
			t.Run(tc.name, func(t *testing.T) {
				_, err := db.Load(context.Background(), bytes.NewReader(tc.file))
				if !errors.Is(err, tc.want) {
					t.Fatalf("Load: %v, want %v", err, tc.want)
				}
				if empty, err := db.Empty(); err != nil || !empty {
					t.Fatalf("after a refused load the target is not empty (%v): %+v", err, digest(t, db))
				}
			})
		}
		// The same store takes the good dump afterwards.
		if _, err := db.Load(context.Background(), bytes.NewReader(good)); err != nil {
			t.Fatal(err)
		}
		if !sameContent(digest(t, db), digest(t, src)) {
			t.Fatal("the good dump did not load whole after the refused ones")
		}
	})
}

// rebuild reads a dump and writes its records again with DumpWriter.
func rebuild(t testing.TB, file []byte) []byte {
	t.Helper()
	dr, err := store.NewDumpReader(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	dw, err := store.NewDumpWriter(&out, dr.Info().Engine, dr.Info().Created)
	if err != nil {
		t.Fatal(err)
	}
	for {
		k, v, err := dr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := dw.Add(k, v); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := dw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestLoadRefusesNonEmptyTarget: a store holding even one key is refused
// and keeps exactly what it held.
func TestLoadRefusesNonEmptyTarget(t *testing.T) {
	forEngines(t, func(t *testing.T, db *store.DB) {
		put(t, db, "c/existing", "keep me")
		before := digest(t, db)
		_, err := db.Load(context.Background(), bytes.NewReader(goodRaw().bytes()))
		if !errors.Is(err, store.ErrTargetNotEmpty) {
			t.Fatalf("Load into a non-empty store: %v, want ErrTargetNotEmpty", err)
		}
		if !sameContent(digest(t, db), before) {
			t.Fatal("a refused load changed the target")
		}
	})
}

// TestLoadCancelledLeavesEmpty: a load whose context ends half way applies
// nothing.
func TestLoadCancelledLeavesEmpty(t *testing.T) {
	src := engines[0].open(t)
	fillDump(t, src, 3000)
	good, _ := dumpOf(t, src)
	forEngines(t, func(t *testing.T, db *store.DB) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := db.Load(ctx, bytes.NewReader(good)); !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled Load: %v", err)
		}
		if empty, err := db.Empty(); err != nil || !empty {
			t.Fatalf("a cancelled load left data (%v)", err)
		}
	})
}

// TestDumpWriterRefusesWhatItCannotCarry: an oversized key or value, an
// empty key and keys out of order are refused when written, not found at
// restore time.
func TestDumpWriterRefusesWhatItCannotCarry(t *testing.T) {
	tests := []struct {
		name string
		k, v []byte
		want error
	}{
		{"key-too-long", bytes.Repeat([]byte("k"), store.MaxDumpKeyBytes+1), nil, store.ErrDumpRecordTooBig},
		{"value-too-long", []byte("k2"), make([]byte, store.MaxDumpValueBytes+1), store.ErrDumpRecordTooBig},
		{"empty-key", []byte{}, []byte("v"), store.ErrDumpCorrupt},
		{"not-ascending", []byte("a"), nil, store.ErrDumpCorrupt},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dw, err := store.NewDumpWriter(io.Discard, "badger", dumpEpoch)
			if err != nil {
				t.Fatal(err)
			}
			if err := dw.Add([]byte("b"), nil); err != nil {
				t.Fatal(err)
			}
			if err := dw.Add(tc.k, tc.v); !errors.Is(err, tc.want) {
				t.Fatalf("Add: %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := store.NewDumpWriter(io.Discard, "Not An Engine", dumpEpoch); !errors.Is(err, store.ErrDumpCorrupt) {
		t.Fatalf("bad engine name: %v", err)
	}
}

// BenchmarkDumpLoadBadger measures a dump of a 20,000-record badger store
// and its load into a fresh one.
func BenchmarkDumpLoadBadger(b *testing.B) {
	src := engines[0].open(b)
	fillDump(b, src, 20_000)
	file, _ := dumpOf(b, src)
	b.SetBytes(int64(len(file)))
	b.Run("dump", func(b *testing.B) {
		b.SetBytes(int64(len(file)))
		for b.Loop() {
			if _, err := src.Dump(context.Background(), io.Discard, clock.NewFake(dumpEpoch)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("load", func(b *testing.B) {
		b.SetBytes(int64(len(file)))
		for b.Loop() {
			b.StopTimer()
			to, err := store.Open(store.Options{Dir: b.TempDir(), Profile: store.ProfileSmall, Logger: quiet, Unsynced: true})
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			if _, err := to.Load(context.Background(), bytes.NewReader(file)); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			to.Close()
			b.StartTimer()
		}
	})
}

// TestLoadWipesCommittedBatches: a dump larger than one badger
// transaction is written in several commits; when its end turns out to be
// damaged, the commits already made are wiped too.
func TestLoadWipesCommittedBatches(t *testing.T) {
	src := engines[0].open(t)
	for start := 0; start < 20_000; start += 2000 {
		if err := src.Update(func(x *store.Txn) error {
			for i := start; i < start+2000; i++ {
				if err := x.Put(fmt.Appendf(nil, "big/%06d", i), bytes.Repeat([]byte{byte(i)}, 300)); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	good, _ := dumpOf(t, src) // 20,000 pairs, 6 MiB: several times the small profile's largest transaction
	bad := bytes.Clone(good)
	bad[len(bad)-1] ^= 1
	forEngines(t, func(t *testing.T, db *store.DB) {
		if _, err := db.Load(context.Background(), bytes.NewReader(bad)); !errors.Is(err, store.ErrDumpChecksum) {
			t.Fatalf("Load: %v, want ErrDumpChecksum", err)
		}
		if empty, err := db.Empty(); err != nil || !empty {
			t.Fatalf("the batches committed before the bad checksum are still there (%v): %+v", err, digest(t, db))
		}
	})
}

// TestDumpReaderAllocatesAsBytesArrive: a hostile file whose record claims
// a value at the size limit but holds a few bytes is refused as truncated
// without the reader taking the claimed memory.
func TestDumpReaderAllocatesAsBytesArrive(t *testing.T) {
	b := rawDump{version: store.DumpVersion, engine: "badger", created: dumpEpoch.UnixNano(), count: -1}.bytes()
	b = b[:len(b)-9-32]
	b = append(b, 1)
	b = binary.BigEndian.AppendUint32(b, 1)
	b = binary.BigEndian.AppendUint32(b, store.MaxDumpValueBytes)
	b = append(b, "k0123456789"...)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	dr, err := store.NewDumpReader(bytes.NewReader(b))
	if err == nil {
		_, _, err = dr.Next()
	}
	runtime.ReadMemStats(&after)
	if !errors.Is(err, store.ErrDumpTruncated) {
		t.Fatalf("Next: %v, want ErrDumpTruncated", err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 1<<20 {
		t.Fatalf("reading a 10-byte value that claims %d bytes allocated %d bytes", store.MaxDumpValueBytes, got)
	}
}
