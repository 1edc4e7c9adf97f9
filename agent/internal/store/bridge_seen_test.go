package store

import (
	"encoding/binary"
	"errors"
	"testing"

	badger "github.com/dgraph-io/badger/v4"
)

func TestBridgeSeenRecords(t *testing.T) {
	s := openTest(t, t.TempDir(), testKey())
	defer s.Close()
	hash := func(i int) (h [BridgeHashBytes]byte) { h[0], h[15] = byte(i), 0xee; return h }
	err := s.DB().Update(func(txn *badger.Txn) error {
		for i := 1; i <= 5; i++ {
			if err := SetInt(txn, KeyBridgeSeen(int64(i), hash(i)), int64(100+i)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := s.BridgeSeenRecords(3) // keeps the newest three, deletes the rest
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || recs[0].N != 3 || recs[2].N != 5 || recs[2].Seq != 105 || recs[2].Hash != hash(5) {
		t.Fatalf("records = %+v", recs)
	}
	if recs, err = s.BridgeSeenRecords(10); err != nil || len(recs) != 3 {
		t.Fatalf("after the limit: %d records, %v; want the 3 kept", len(recs), err)
	}
	if err := s.DeleteKeys([][]byte{KeyBridgeSeen(3, hash(3))}); err != nil {
		t.Fatal(err)
	}
	if recs, _ = s.BridgeSeenRecords(10); len(recs) != 2 || recs[0].N != 4 {
		t.Fatalf("after delete: %+v", recs)
	}
	for name, kv := range map[string][2][]byte{
		"short key":  {[]byte(prefixBridgeSeen + "x"), make([]byte, 8)},
		"long value": {KeyBridgeSeen(9, hash(9)), make([]byte, 9)},
		"zero seq":   {KeyBridgeSeen(9, hash(9)), make([]byte, 8)},
	} {
		if err := s.DB().Update(func(txn *badger.Txn) error { return txn.Set(kv[0], kv[1]) }); err != nil {
			t.Fatal(err)
		}
		if _, err := s.BridgeSeenRecords(10); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
		s.DeleteKeys([][]byte{kv[0]})
	}
}

// FuzzParseBridgeSeen: any key and value either decode into a record whose
// key and value encode back to the same bytes, or are refused as corrupt.
func FuzzParseBridgeSeen(f *testing.F) {
	var h [BridgeHashBytes]byte
	h[3] = 7
	f.Add(KeyBridgeSeen(1, h), []byte{0, 0, 0, 0, 0, 0, 0, 9})
	f.Add([]byte("bd/"), []byte{})
	f.Add(KeyBridgeSeen(1<<62+1, h), []byte{0xff, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, key, val []byte) {
		r, err := ParseBridgeSeen(key, val)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v is not ErrCorrupt", err)
			}
			return
		}
		if r.Seq <= 0 || r.N < 0 {
			t.Fatalf("accepted %+v", r)
		}
		if string(KeyBridgeSeen(r.N, r.Hash)) != string(key) || binary.BigEndian.Uint64(val) != uint64(r.Seq) {
			t.Fatalf("%+v does not round-trip %x/%x", r, key, val)
		}
	})
}
