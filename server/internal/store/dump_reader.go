package store

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"
)

// dumpReadChunk is how much the reader grows a buffer at a time, so that
// a length field claiming a large value costs memory only as its bytes
// actually arrive.
const dumpReadChunk = 64 << 10

// DumpReader reads a dump record by record, checking its structure as it
// goes and its checksum at the end: Next returns io.EOF only once the
// trailer's count and SHA-256 have matched and nothing follows. A caller
// must therefore apply records only provisionally until io.EOF.
type DumpReader struct {
	r       *bufio.Reader
	file    hash.Hash
	content *contentHash
	info    DumpInfo
	last    []byte
	k, v    []byte
	done    bool
	err     error
}

// NewDumpReader reads and checks a dump's header from r.
func NewDumpReader(r io.Reader) (*DumpReader, error) {
	d := &DumpReader{r: bufio.NewReaderSize(r, 64<<10), file: sha256.New(), content: newContentHash()}
	magic, err := d.read(nil, len(dumpMagic))
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(magic, dumpMagic[:]) {
		return nil, ErrDumpNotADump
	}
	b, err := d.read(nil, 3)
	if err != nil {
		return nil, err
	}
	if v := binary.BigEndian.Uint16(b); v != DumpVersion {
		return nil, fmt.Errorf("%w: the file is version %d, this build reads version %d", ErrDumpVersion, v, DumpVersion)
	}
	name, err := d.read(nil, int(b[2]))
	if err != nil {
		return nil, err
	}
	if err := checkEngineName(string(name)); err != nil {
		return nil, err
	}
	b, err = d.read(nil, 8)
	if err != nil {
		return nil, err
	}
	created := int64(binary.BigEndian.Uint64(b))
	if created <= 0 {
		return nil, fmt.Errorf("%w: created time %d is not after 1970", ErrDumpCorrupt, created)
	}
	d.info = DumpInfo{Engine: string(name), Created: time.Unix(0, created).UTC()}
	return d, nil
}

// Info returns the header's engine and time; after Next has returned
// io.EOF, also the records' count, bytes and digest.
func (d *DumpReader) Info() DumpInfo { return d.info }

// read reads n bytes into buf (reused when large enough), adding them to
// the file hash; a short read is ErrDumpTruncated.
func (d *DumpReader) read(buf []byte, n int) ([]byte, error) {
	if cap(buf) >= n {
		buf = buf[:n]
		if _, err := io.ReadFull(d.r, buf); err != nil {
			return nil, truncated(err)
		}
		d.file.Write(buf)
		return buf, nil
	}
	buf = buf[:0]
	for len(buf) < n {
		step := min(n-len(buf), dumpReadChunk)
		start := len(buf)
		buf = append(buf, make([]byte, step)...)
		if _, err := io.ReadFull(d.r, buf[start:]); err != nil {
			return nil, truncated(err)
		}
	}
	d.file.Write(buf)
	return buf, nil
}

// Next returns the next pair (valid until the following call), or io.EOF
// after a verified trailer, or the error that makes the dump unusable
// (sticky).
func (d *DumpReader) Next() (k, v []byte, err error) {
	if d.err != nil {
		return nil, nil, d.err
	}
	if d.done {
		return nil, nil, io.EOF
	}
	k, v, err = d.next()
	if err != nil && !errors.Is(err, io.EOF) {
		d.err = err
	}
	return k, v, err
}

func (d *DumpReader) next() ([]byte, []byte, error) {
	hdr, err := d.read(nil, 1)
	if err != nil {
		return nil, nil, err
	}
	switch hdr[0] {
	case dumpTagEnd:
		return nil, nil, d.trailer()
	case dumpTagRecord:
	default:
		return nil, nil, fmt.Errorf("%w: record tag 0x%02x after %d records", ErrDumpCorrupt, hdr[0], d.content.records)
	}
	hdr, err = d.read(nil, 8)
	if err != nil {
		return nil, nil, err
	}
	kl, vl := binary.BigEndian.Uint32(hdr[:4]), binary.BigEndian.Uint32(hdr[4:])
	if kl == 0 {
		return nil, nil, fmt.Errorf("%w: empty key after %d records", ErrDumpCorrupt, d.content.records)
	}
	if kl > MaxDumpKeyBytes || vl > MaxDumpValueBytes {
		return nil, nil, fmt.Errorf("%w: record %d has a %d-byte key and a %d-byte value (limits %d and %d)",
			ErrDumpRecordTooBig, d.content.records+1, kl, vl, MaxDumpKeyBytes, MaxDumpValueBytes)
	}
	if d.k, err = d.read(d.k, int(kl)); err != nil {
		return nil, nil, err
	}
	if d.v, err = d.read(d.v, int(vl)); err != nil {
		return nil, nil, err
	}
	if d.last != nil && bytes.Compare(d.k, d.last) <= 0 {
		return nil, nil, fmt.Errorf("%w: key %q does not ascend", ErrDumpCorrupt, d.k)
	}
	d.last = append(d.last[:0], d.k...)
	d.content.add(d.k, d.v)
	return d.k, d.v, nil
}

// trailer checks the count, the checksum and the end of the file.
func (d *DumpReader) trailer() error {
	b, err := d.read(nil, 8)
	if err != nil {
		return err
	}
	count := binary.BigEndian.Uint64(b)
	want := d.file.Sum(nil)
	var got [sha256.Size]byte
	if _, err := io.ReadFull(d.r, got[:]); err != nil {
		return truncated(err)
	}
	if !bytes.Equal(got[:], want) {
		return ErrDumpChecksum
	}
	if count != uint64(d.content.records) {
		return fmt.Errorf("%w: trailer counts %d records, the file holds %d", ErrDumpCorrupt, count, d.content.records)
	}
	if _, err := d.r.ReadByte(); err == nil {
		return fmt.Errorf("%w: bytes after the trailer", ErrDumpCorrupt)
	} else if !errors.Is(err, io.EOF) {
		return fmt.Errorf("store: read dump: %w", err)
	}
	d.done = true
	d.content.fill(&d.info)
	return io.EOF
}

// truncated names a short read ErrDumpTruncated and wraps any other read
// error.
func truncated(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return ErrDumpTruncated
	}
	return fmt.Errorf("store: read dump: %w", err)
}
