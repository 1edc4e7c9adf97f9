package store

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"

	"github.com/tollgate-iot/tollgate/shared/clock"
)

// A dump is the whole store in a file that does not depend on the engine
// that wrote it, so that a badger ledger can be restored into badger or
// PostgreSQL and back. Layout (integers big-endian):
//
//	magic    8 bytes "TGLEDGER"
//	version  uint16 (DumpVersion)
//	engine   uint8 length n (1..MaxDumpEngineBytes), then n bytes [a-z0-9]
//	created  int64 Unix nanoseconds (> 0)
//	records  each: byte 0x01, uint32 key length (1..MaxDumpKeyBytes),
//	         uint32 value length (0..MaxDumpValueBytes), key, value;
//	         keys strictly ascending
//	trailer  byte 0x00, uint64 record count, then the SHA-256 of every
//	         byte before it; nothing may follow.

// Limits of the dump format.
const (
	// DumpVersion is the format version Dump writes and Load reads.
	DumpVersion = 1
	// MaxDumpEngineBytes bounds the engine name in a dump's header.
	MaxDumpEngineBytes = 32
	// MaxDumpKeyBytes is badger's own key limit: every key a store holds
	// fits.
	MaxDumpKeyBytes = 65000
	// MaxDumpValueBytes bounds one value: the whole of PostgreSQL's
	// largest transaction (PostgresMaxTxnBytes); ledger values are a few
	// hundred bytes.
	MaxDumpValueBytes = PostgresMaxTxnBytes
	// dumpCheckEvery is how many records pass between two checks of the
	// context.
	dumpCheckEvery = 1024
)

// dumpMagic opens every dump.
var dumpMagic = [8]byte{'T', 'G', 'L', 'E', 'D', 'G', 'E', 'R'}

// Record tags.
const (
	dumpTagEnd    = 0x00
	dumpTagRecord = 0x01
)

// Errors of dumps and loads.
var (
	// ErrDumpNotADump reports a file that does not start like a dump.
	ErrDumpNotADump = errors.New("not a ledger dump (bad magic): give a file written by tollgate-server backup")
	// ErrDumpVersion reports a dump of a format version this build does
	// not read.
	ErrDumpVersion = errors.New("unknown dump format version: restore it with the tollgate-server release that wrote it, or a newer one")
	// ErrDumpTruncated reports a dump that ends before its trailer.
	ErrDumpTruncated = errors.New("dump is truncated: the file ends before its trailer; copy it again from where it was written")
	// ErrDumpChecksum reports a dump whose bytes do not match its SHA-256.
	ErrDumpChecksum = errors.New("dump checksum mismatch: the file was changed or damaged after it was written")
	// ErrDumpRecordTooBig reports a key or value over the format's limits
	// (MaxDumpKeyBytes, MaxDumpValueBytes).
	ErrDumpRecordTooBig = errors.New("dump record over the size limit")
	// ErrDumpCorrupt reports a dump whose structure is wrong although it
	// is complete: a bad tag or engine name, keys out of order, a record
	// count that disagrees with the trailer, bytes after the trailer.
	ErrDumpCorrupt = errors.New("dump is malformed")
	// ErrTargetNotEmpty reports a Load into a store that holds data.
	ErrTargetNotEmpty = errors.New("target store is not empty: load a dump only into an empty store")
)

// DumpInfo describes a dump, or the content of a store.
type DumpInfo struct {
	// Engine is the engine that wrote the dump ("badger", "postgres").
	Engine string
	// Created is when the dump was written (zero for a store's Digest).
	Created time.Time
	// Records and Bytes count the key/value pairs and their key and
	// value bytes.
	Records int64
	Bytes   int64
	// Digest is the SHA-256 over every pair in key order, each as uint32
	// key length, key, uint32 value length, value: the same for the same
	// content on any engine, so two stores can be compared.
	Digest [sha256.Size]byte
}

// Engine names the store's engine: "badger" or "postgres".
func (d *DB) Engine() string {
	switch d.eng.(type) {
	case *badgerEngine:
		return "badger"
	case *postgresEngine:
		return "postgres"
	}
	return "unknown"
}

// contentHash accumulates a DumpInfo's counts and digest.
type contentHash struct {
	h       hash.Hash
	records int64
	bytes   int64
	lenBuf  [4]byte
}

func newContentHash() *contentHash { return &contentHash{h: sha256.New()} }

func (c *contentHash) add(k, v []byte) {
	binary.BigEndian.PutUint32(c.lenBuf[:], uint32(len(k)))
	c.h.Write(c.lenBuf[:])
	c.h.Write(k)
	binary.BigEndian.PutUint32(c.lenBuf[:], uint32(len(v)))
	c.h.Write(c.lenBuf[:])
	c.h.Write(v)
	c.records++
	c.bytes += int64(len(k) + len(v))
}

func (c *contentHash) fill(info *DumpInfo) {
	info.Records, info.Bytes = c.records, c.bytes
	copy(info.Digest[:], c.h.Sum(nil))
}

// checkRecord refuses a pair the format cannot carry.
func checkRecord(k, v []byte) error {
	if len(k) == 0 {
		return fmt.Errorf("%w: empty key", ErrDumpCorrupt)
	}
	if len(k) > MaxDumpKeyBytes {
		return fmt.Errorf("%w: key of %d bytes (limit %d)", ErrDumpRecordTooBig, len(k), MaxDumpKeyBytes)
	}
	if len(v) > MaxDumpValueBytes {
		return fmt.Errorf("%w: value of %d bytes at key %q (limit %d)", ErrDumpRecordTooBig, len(v), k, MaxDumpValueBytes)
	}
	return nil
}

// checkEngineName refuses an engine name the header cannot carry.
func checkEngineName(name string) error {
	if len(name) == 0 || len(name) > MaxDumpEngineBytes {
		return fmt.Errorf("%w: engine name of %d bytes (1..%d)", ErrDumpCorrupt, len(name), MaxDumpEngineBytes)
	}
	for _, c := range []byte(name) {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return fmt.Errorf("%w: engine name %q is not [a-z0-9]", ErrDumpCorrupt, name)
		}
	}
	return nil
}

// DumpWriter writes a dump record by record; Dump drives it over a store.
type DumpWriter struct {
	bw      *bufio.Writer
	out     io.Writer // bw and the file hash
	file    hash.Hash
	content *contentHash
	info    DumpInfo
	last    []byte
	hdr     [9]byte
	err     error
}

// NewDumpWriter writes a dump header for engine, created at created, to
// w.
func NewDumpWriter(w io.Writer, engine string, created time.Time) (*DumpWriter, error) {
	if err := checkEngineName(engine); err != nil {
		return nil, err
	}
	if created.UnixNano() <= 0 {
		return nil, fmt.Errorf("%w: created time %v is not after 1970", ErrDumpCorrupt, created)
	}
	dw := &DumpWriter{bw: bufio.NewWriterSize(w, 64<<10), file: sha256.New(), content: newContentHash(),
		info: DumpInfo{Engine: engine, Created: time.Unix(0, created.UnixNano()).UTC()}}
	dw.out = io.MultiWriter(dw.bw, dw.file)
	hdr := make([]byte, 0, 8+2+1+len(engine)+8)
	hdr = append(hdr, dumpMagic[:]...)
	hdr = binary.BigEndian.AppendUint16(hdr, DumpVersion)
	hdr = append(hdr, byte(len(engine)))
	hdr = append(hdr, engine...)
	hdr = binary.BigEndian.AppendUint64(hdr, uint64(created.UnixNano()))
	if _, err := dw.out.Write(hdr); err != nil {
		return nil, err
	}
	return dw, nil
}

// Add writes one pair; keys must ascend strictly.
func (dw *DumpWriter) Add(k, v []byte) error {
	if dw.err != nil {
		return dw.err
	}
	if err := checkRecord(k, v); err != nil {
		return err
	}
	if dw.last != nil && bytes.Compare(k, dw.last) <= 0 {
		return fmt.Errorf("%w: key %q does not ascend", ErrDumpCorrupt, k)
	}
	dw.last = append(dw.last[:0], k...)
	dw.hdr[0] = dumpTagRecord
	binary.BigEndian.PutUint32(dw.hdr[1:5], uint32(len(k)))
	binary.BigEndian.PutUint32(dw.hdr[5:9], uint32(len(v)))
	for _, p := range [][]byte{dw.hdr[:], k, v} {
		if _, err := dw.out.Write(p); err != nil {
			dw.err = err
			return err
		}
	}
	dw.content.add(k, v)
	return nil
}

// Close writes the trailer and flushes; it does not close the underlying
// writer. It returns what was written.
func (dw *DumpWriter) Close() (DumpInfo, error) {
	if dw.err != nil {
		return DumpInfo{}, dw.err
	}
	var t [9]byte
	t[0] = dumpTagEnd
	binary.BigEndian.PutUint64(t[1:], uint64(dw.content.records))
	if _, err := dw.out.Write(t[:]); err != nil {
		return DumpInfo{}, err
	}
	if _, err := dw.bw.Write(dw.file.Sum(nil)); err != nil {
		return DumpInfo{}, err
	}
	if err := dw.bw.Flush(); err != nil {
		return DumpInfo{}, err
	}
	dw.content.fill(&dw.info)
	return dw.info, nil
}

// Dump writes every pair of the store to w, in key order, from one read
// transaction: one snapshot on either engine (badger's read transaction;
// on PostgreSQL a REPEATABLE READ transaction read 256 rows at a time), so
// writes made meanwhile are all in it or all out of it. The header's time
// comes from clk.
func (d *DB) Dump(ctx context.Context, w io.Writer, clk clock.Clock) (DumpInfo, error) {
	dw, err := NewDumpWriter(w, d.Engine(), clock.OrReal(clk).Now())
	if err != nil {
		return DumpInfo{}, err
	}
	err = d.View(func(x *Txn) error {
		n := 0
		return x.ScanInPlace(nil, nil, func(k, v []byte) (bool, error) {
			if n++; n%dumpCheckEvery == 0 {
				if err := ctx.Err(); err != nil {
					return false, err
				}
			}
			return true, dw.Add(k, v)
		})
	})
	if err != nil {
		return DumpInfo{}, fmt.Errorf("store: dump: %w", err)
	}
	return dw.Close()
}

// Digest reads every pair of the store in key order, in one snapshot,
// and returns their count, bytes and digest (DumpInfo.Digest): the same
// figures Dump and Load report for the same content.
func (d *DB) Digest(ctx context.Context) (DumpInfo, error) {
	c := newContentHash()
	err := d.View(func(x *Txn) error {
		return x.ScanInPlace(nil, nil, func(k, v []byte) (bool, error) {
			if c.records%dumpCheckEvery == 0 {
				if err := ctx.Err(); err != nil {
					return false, err
				}
			}
			c.add(k, v)
			return true, nil
		})
	})
	if err != nil {
		return DumpInfo{}, fmt.Errorf("store: digest: %w", err)
	}
	info := DumpInfo{Engine: d.Engine()}
	c.fill(&info)
	return info, nil
}

// Empty reports whether the store holds no key at all.
func (d *DB) Empty() (bool, error) {
	empty := true
	err := d.View(func(x *Txn) error {
		return x.Scan(nil, nil, false, func([]byte, []byte) (bool, error) {
			empty = false
			return false, nil
		})
	})
	return empty, err
}
