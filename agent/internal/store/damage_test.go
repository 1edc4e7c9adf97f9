package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/tollgate-iot/tollgate/agent/internal/limits"
)

// damageRecords is how many token records the damage tests write: several
// SST blocks' worth, so that every position class exists.
const damageRecords = 200

// fillForDamage writes records under the token prefix (what `run` loads
// its licenses from) and closes the store, which flushes them to an SST.
func fillForDamage(t *testing.T, dir string, tune func(badger.Options) badger.Options) map[string]string {
	t.Helper()
	s, err := Open(context.Background(), Options{Dir: dir, Key: testKey(), Tune: tune})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	err = s.DB().Update(func(txn *badger.Txn) error {
		for i := 0; i < damageRecords; i++ {
			id := fmt.Sprintf("lic-%04d", i)
			text := "tg1.lic." + strings.Repeat(fmt.Sprintf("%04d", i), 40)
			want[text] = id
			if err := txn.Set(KeyToken(id), []byte(text)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return want
}

// sstLayout returns the store's one SST and where its index lies: the
// footer is index, index length (4), checksum, checksum length (4).
func sstLayout(t *testing.T, dir string) (path string, indexStart, indexEnd int) {
	t.Helper()
	ssts, _ := filepath.Glob(filepath.Join(dir, "*.sst"))
	if len(ssts) != 1 {
		t.Fatalf("%d SSTs after close, want 1", len(ssts))
	}
	b, err := os.ReadFile(ssts[0])
	if err != nil {
		t.Fatal(err)
	}
	pos := len(b) - 4
	pos -= int(binary.BigEndian.Uint32(b[pos:])) + 4
	idxLen := int(binary.BigEndian.Uint32(b[pos:]))
	return ssts[0], pos - idxLen, pos
}

func flipByte(t *testing.T, path string, off int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if off < 0 || off >= len(b) {
		t.Fatalf("offset %d outside %s (%d bytes)", off, path, len(b))
	}
	b[off] ^= 0x20
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestStoreRefusesDamagedTable flips one byte of the state database's SST
// in each position class and reopens it. Badger verifies only a table's
// index at open by default: a flip in a data block went unnoticed, and the
// agent read back a different key or value (a license silently gone). The
// store must refuse to open, as ErrCorrupt naming the file and the remedy.
func TestStoreRefusesDamagedTable(t *testing.T) {
	tests := []struct {
		name string
		off  func(indexStart, indexEnd int) int
	}{
		{"block/first_byte", func(is, _ int) int { return 0 }},
		{"block/middle", func(is, _ int) int { return is / 2 }},
		{"block/last_byte", func(is, _ int) int { return is - 1 }}, // the last block's IV
		{"index/first_byte", func(is, _ int) int { return is }},
		{"index/middle", func(is, ie int) int { return (is + ie) / 2 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			fillForDamage(t, dir, nil)
			path, is, ie := sstLayout(t, dir)
			flipByte(t, path, tt.off(is, ie))
			s, err := Open(context.Background(), Options{Dir: dir, Key: testKey()})
			if err == nil {
				got, _ := s.Tokens()
				s.Close()
				t.Fatalf("a damaged table opened (%d of %d tokens readable)", len(got), damageRecords)
			}
			msg := err.Error()
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(msg, filepath.Base(path)) || !strings.Contains(msg, "backup") {
				t.Fatalf("open: %v; want ErrCorrupt naming %s and the remedy", err, filepath.Base(path))
			}
		})
	}
	t.Run("ok/clean", func(t *testing.T) {
		dir := t.TempDir()
		want := fillForDamage(t, dir, nil)
		s := openTest(t, dir, testKey())
		defer s.Close()
		got, err := s.Tokens()
		if err != nil || len(got) != len(want) {
			t.Fatalf("clean store: %d tokens, %v; want %d", len(got), err, len(want))
		}
		for _, g := range got {
			if _, ok := want[g]; !ok {
				t.Fatalf("clean store read back %q", g)
			}
		}
	})
}

// TestStoreRefusesDamagedManifest: badger checks the manifest itself; a
// flip there is refused as ErrCorrupt naming it, like a table.
func TestStoreRefusesDamagedManifest(t *testing.T) {
	for _, off := range []int{0, 10, -1} { // magic, header, last change's checksum
		t.Run(fmt.Sprint("error/offset_", off), func(t *testing.T) {
			dir := t.TempDir()
			fillForDamage(t, dir, nil)
			path := filepath.Join(dir, "MANIFEST")
			if off < 0 {
				st, err := os.Stat(path)
				if err != nil {
					t.Fatal(err)
				}
				off = int(st.Size()) - 1
			}
			flipByte(t, path, off)
			_, err := Open(context.Background(), Options{Dir: dir, Key: testKey(), Logger: discard()})
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "MANIFEST") {
				t.Fatalf("open: %v; want ErrCorrupt naming MANIFEST", err)
			}
		})
	}
}

// TestStoreRefusesDamagedValueLog puts values in the value log (the device
// profile keeps every record in the LSM tree; a tiny threshold forces them
// out), flips a byte inside one entry and reads everything back. Badger
// truncates the last value log at the first bad entry when it opens and
// hands back an empty value, with no error, for a value it cannot read:
// the store must refuse those records as ErrCorrupt, and never return a
// changed or empty value as if it were the record.
func TestStoreRefusesDamagedValueLog(t *testing.T) {
	dir := t.TempDir()
	tune := func(o badger.Options) badger.Options { return o.WithValueThreshold(64) }
	want := fillForDamage(t, dir, tune)
	vlogs, _ := filepath.Glob(filepath.Join(dir, "*.vlog"))
	if len(vlogs) != 1 {
		t.Fatalf("%d value logs, want 1", len(vlogs))
	}
	// Entries start after the file's 20-byte header (key id, base IV) and
	// are ~200 bytes each: this lands in the second.
	flipByte(t, vlogs[0], 20+300)
	s, err := Open(context.Background(), Options{Dir: dir, Key: testKey(), Tune: tune, Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	refused := 0
	for text, id := range want {
		b, err := s.GetBytes(KeyToken(id))
		switch {
		case errors.Is(err, ErrCorrupt):
			refused++
		case err != nil:
			t.Fatalf("read %s: %v", id, err)
		case string(b) != text:
			t.Fatalf("read %s: %q, a changed value returned as the record", id, b)
		}
	}
	if refused == 0 {
		t.Fatal("no record refused after a value-log entry was damaged")
	}
	if _, err := s.Tokens(); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Tokens over a damaged value log: %v, want ErrCorrupt", err)
	}
}

// TestProfileKeepsRecordsOutOfValueLog: the largest record the agent reads
// back lives in the LSM tree, where table checksums cover it.
func TestProfileKeepsRecordsOutOfValueLog(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, testKey())
	big := []byte(strings.Repeat("x", limits.MaxStoredRecordBytes))
	if err := s.DB().Update(func(txn *badger.Txn) error { return txn.Set(KeyToken("big"), big) }); err != nil {
		t.Fatal(err)
	}
	if err := s.DB().View(func(txn *badger.Txn) error {
		it, err := txn.Get(KeyToken("big"))
		if err != nil {
			return err
		}
		if it.ValueSize() != int64(len(big)) {
			t.Errorf("ValueSize %d for a %d-byte record: it went to the value log", it.ValueSize(), len(big))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
