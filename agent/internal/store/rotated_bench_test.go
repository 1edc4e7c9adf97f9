package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/tollgate-iot/tollgate/shared/clock"
)

// BenchmarkSyncRotated measures, interleaved in one run, the agent's
// durable-write pattern — a 2 KiB group commit made durable, then an
// unsynced watermark write (the PUBACK path) — three ways, each on its own
// store with the device profile:
//
//   - dbsync: commit + badger's DB.Sync alone (the old Store.Flush, which
//     misses rotated logs);
//   - store: commit + Store.Flush (DB.Sync + the rotated-log fsyncs);
//   - syncwrites: SyncWrites(true), no explicit Sync — every commit,
//     the watermark write included, fsyncs.
//
// It reports ns per round for each and the ratios store/dbsync and
// syncwrites/store.
func BenchmarkSyncRotated(b *testing.B) {
	open := func(tune func(badger.Options) badger.Options) *Store {
		s, err := Open(context.Background(), Options{
			Dir: b.TempDir(), Key: testKey(), Tune: tune,
			Clock: clock.NewFake(time.Unix(0, 0)),
		})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s
	}
	plain, fixed := open(nil), open(nil)
	syncw := open(func(o badger.Options) badger.Options { return o.WithSyncWrites(true) })
	seg := bytes.Repeat([]byte("x"), 2048)
	round := func(s *Store, i int, sync func() error) time.Duration {
		start := clock.Real{}.Now()
		key := binary.BigEndian.AppendUint64([]byte("o/"), uint64(i))
		if err := s.DB().Update(func(txn *badger.Txn) error { return txn.Set(key, seg) }); err != nil {
			b.Fatal(err)
		}
		if sync != nil {
			if err := sync(); err != nil {
				b.Fatal(err)
			}
		}
		mark := binary.BigEndian.AppendUint64(nil, uint64(i))
		if err := s.DB().Update(func(txn *badger.Txn) error { return txn.Set([]byte("w"), mark) }); err != nil {
			b.Fatal(err)
		}
		return clock.Real{}.Now().Sub(start)
	}
	var tPlain, tFixed, tSyncw time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		switch i % 3 { // rotate who goes first, to spread disk noise evenly
		case 0:
			tPlain += round(plain, i, plain.db.Sync)
			tFixed += round(fixed, i, fixed.Flush)
			tSyncw += round(syncw, i, nil)
		case 1:
			tFixed += round(fixed, i, fixed.Flush)
			tSyncw += round(syncw, i, nil)
			tPlain += round(plain, i, plain.db.Sync)
		default:
			tSyncw += round(syncw, i, nil)
			tPlain += round(plain, i, plain.db.Sync)
			tFixed += round(fixed, i, fixed.Flush)
		}
	}
	n := float64(b.N)
	b.ReportMetric(float64(tPlain.Nanoseconds())/n, "dbsync_ns/round")
	b.ReportMetric(float64(tFixed.Nanoseconds())/n, "store_ns/round")
	b.ReportMetric(float64(tSyncw.Nanoseconds())/n, "syncwrites_ns/round")
	b.ReportMetric(float64(tFixed)/float64(tPlain), "store/dbsync")
	b.ReportMetric(float64(tSyncw)/float64(tFixed), "syncwrites/store")
}
