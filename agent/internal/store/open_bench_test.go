package store

import (
	"context"
	"crypto/rand"
	"fmt"
	"testing"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// openBenchBytes is the state database the open benchmark verifies: a full
// default outbox (100,000 samples, ≈ 20 MiB of compressed segments) is the
// largest a device keeps.
const openBenchBytes = 20 << 20

// BenchmarkOpenVerify measures what verifying every table's checksums
// costs Open, against the same store opened without it.
func BenchmarkOpenVerify(b *testing.B) {
	dir := b.TempDir()
	s, err := Open(context.Background(), Options{Dir: dir, Key: testKey(), Logger: discard()})
	if err != nil {
		b.Fatal(err)
	}
	val := make([]byte, 32<<10) // an outbox segment, incompressible
	for i := 0; i < openBenchBytes/len(val); i++ {
		rand.Read(val)
		if err := s.DB().Update(func(txn *badger.Txn) error { return txn.Set([]byte(fmt.Sprintf("o/%08d", i)), val) }); err != nil {
			b.Fatal(err)
		}
	}
	s.Close()
	for _, mode := range []struct {
		name string
		m    options.ChecksumVerificationMode
	}{{"none", options.NoVerification}, {"on_table_read", options.OnTableRead}} {
		b.Run(mode.name, func(b *testing.B) {
			tune := func(o badger.Options) badger.Options { return o.WithChecksumVerificationMode(mode.m) }
			for b.Loop() {
				s, err := Open(context.Background(), Options{Dir: dir, Key: testKey(), Tune: tune, Logger: discard()})
				if err != nil {
					b.Fatal(err)
				}
				s.Close()
			}
		})
	}
}
