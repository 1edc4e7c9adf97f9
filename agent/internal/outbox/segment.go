package outbox

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/klauspost/compress/s2"

	"github.com/tollgate-iot/tollgate/agent/internal/limits"
)

// A segment is one badger record holding consecutive entries, keyed by its
// first sequence. Sequences are implicit: first, first+1, …
//
// An envelope starts with a head that is the same for every sample of one
// device under one license (wire.TelemetryHead, ~110 bytes of ids), so a
// segment stores each distinct (topic, head) once and per entry only an
// index and the rest of the payload:
//
//	count|segHeads (4 bytes), number of heads (2),
//	per head: topic length (2), topic, head length (2), head,
//	per entry: head index (2), tail length (4), tail
//
// Heads are listed in the order of their first use and each is used, so
// the encoding of given entries is unique. With the segS2 flag set in the
// first four bytes, everything after them is S2-compressed (the count stays
// readable without decompressing); a segment is stored compressed whenever
// that is smaller, which for telemetry (JSON keys, timestamps and values
// that repeat from sample to sample) it nearly always is. Compression costs
// the committer tens of nanoseconds per sample and saves badger several
// times the bytes in its log, memtable, tables and compactions, and the
// device's flash as much: an agent offline for weeks keeps its whole queue.
//
// Segments written before heads existed (count without the flags) are
// still read:
//
//	count (4 bytes) then, per entry: topic length (2), topic,
//	payload length (4), payload
const (
	segHeader   = 4
	segHeads    = 1 << 31
	segS2       = 1 << 30
	segFlags    = segHeads | segS2
	headsHeader = 2
	headHeader  = 2 + 2
	entryHeader = 2 + 4
	maxHeads    = 1<<16 - 1
)

// segBuilder packs entries into one segment.
type segBuilder struct {
	heads []segHead
	// byTopic indexes heads by topic (usually one head per topic).
	byTopic map[string][]int
	idx     []uint16
	size    int
	// plain and packed are scratch for encode, reused across segments.
	plain, packed []byte
}

type segHead struct {
	topic string
	head  []byte
}

func newSegBuilder() *segBuilder {
	return &segBuilder{byTopic: map[string][]int{}, size: segHeader + headsHeader}
}

func (b *segBuilder) reset() {
	b.heads, b.idx, b.size = b.heads[:0], b.idx[:0], segHeader+headsHeader
	clear(b.byTopic)
}

// find returns the index of e's head, or -1.
func (b *segBuilder) find(e *Entry) int {
	for _, i := range b.byTopic[e.Topic] {
		if bytes.Equal(b.heads[i].head, e.Payload[:e.Head]) {
			return i
		}
	}
	return -1
}

// cost is the bytes e adds to the segment.
func (b *segBuilder) cost(e *Entry) int {
	n := entryHeader + len(e.Payload) - e.Head
	if b.find(e) < 0 {
		n += headHeader + len(e.Topic) + e.Head
	}
	return n
}

// fits reports whether e can join the segment without passing
// limits.SegmentBytes (the first entry always fits).
func (b *segBuilder) fits(e *Entry) bool {
	return len(b.idx) == 0 || (len(b.heads) < maxHeads && b.size+b.cost(e) <= limits.SegmentBytes)
}

func (b *segBuilder) add(e *Entry) {
	b.size += b.cost(e)
	i := b.find(e)
	if i < 0 {
		i = len(b.heads)
		b.heads = append(b.heads, segHead{topic: e.Topic, head: e.Payload[:e.Head]})
		b.byTopic[e.Topic] = append(b.byTopic[e.Topic], i)
	}
	b.idx = append(b.idx, uint16(i))
}

// encode returns the segment of es, which must be the entries added,
// compressed if that makes it smaller. The result is a fresh slice of its
// exact size (badger keeps it until the commit); the builder's scratch
// buffers hold the intermediate forms.
func (b *segBuilder) encode(es []Entry) []byte {
	b.plain = b.encodePlain(es, b.plain[:0])
	body := b.plain[segHeader:]
	if s2.MaxEncodedLen(len(body)) >= 0 { // -1: too large for S2
		b.packed = s2.Encode(b.packed[:cap(b.packed)], body)
		if segHeader+len(b.packed) < len(b.plain) {
			out := make([]byte, segHeader+len(b.packed))
			binary.BigEndian.PutUint32(out, uint32(len(es))|segFlags)
			copy(out[segHeader:], b.packed)
			return out
		}
	}
	return append([]byte(nil), b.plain...)
}

// encodePlain appends the uncompressed segment of es to out.
func (b *segBuilder) encodePlain(es []Entry, out []byte) []byte {
	out = slices.Grow(out, b.size)
	out = binary.BigEndian.AppendUint32(out, uint32(len(es))|segHeads)
	out = binary.BigEndian.AppendUint16(out, uint16(len(b.heads)))
	for _, h := range b.heads {
		out = binary.BigEndian.AppendUint16(out, uint16(len(h.topic)))
		out = append(out, h.topic...)
		out = binary.BigEndian.AppendUint16(out, uint16(len(h.head)))
		out = append(out, h.head...)
	}
	for i := range es {
		tail := es[i].Payload[es[i].Head:]
		out = binary.BigEndian.AppendUint16(out, b.idx[i])
		out = binary.BigEndian.AppendUint32(out, uint32(len(tail)))
		out = append(out, tail...)
	}
	return out
}

func encodeSegment(es []Entry) []byte {
	b := newSegBuilder()
	for i := range es {
		b.add(&es[i])
	}
	return b.encode(es)
}

// segmentCount returns the number of entries in a segment without decoding
// them.
func segmentCount(b []byte) (int, error) {
	if len(b) < segHeader {
		return 0, fmt.Errorf("%w: segment of %d bytes", ErrCorrupt, len(b))
	}
	n := int(binary.BigEndian.Uint32(b) &^ segFlags)
	if n == 0 || n > limits.SegmentBytes/entryHeader {
		return 0, fmt.Errorf("%w: segment count %d", ErrCorrupt, n)
	}
	return n, nil
}

// decodeSegment decodes the segment starting at first. Payloads are
// rebuilt (head + tail) in one buffer per segment; with the old format they
// alias b.
func decodeSegment(first int64, b []byte) ([]Entry, error) {
	n, err := segmentCount(b)
	if err != nil {
		return nil, err
	}
	flags := binary.BigEndian.Uint32(b) & segFlags
	switch flags {
	case 0:
		return decodeFlat(first, n, b)
	case segS2:
		return nil, fmt.Errorf("%w: compressed segment without heads", ErrCorrupt)
	case segFlags:
		if b, err = decompress(b); err != nil {
			return nil, err
		}
	}
	r := reader{b: b, off: segHeader}
	nh, ok := r.u16()
	if !ok || nh == 0 {
		return nil, fmt.Errorf("%w: head table", ErrCorrupt)
	}
	heads := make([]segHead, nh)
	seen := make(map[string][]int, nh)
	for i := range heads {
		tl, ok := r.u16()
		topic, ok2 := r.bytes(tl)
		hl, ok3 := r.u16()
		head, ok4 := r.bytes(hl)
		if !ok || !ok2 || !ok3 || !ok4 || tl == 0 {
			return nil, fmt.Errorf("%w: head %d", ErrCorrupt, i)
		}
		heads[i] = segHead{topic: string(topic), head: head}
		for _, j := range seen[heads[i].topic] {
			if bytes.Equal(heads[j].head, head) {
				return nil, fmt.Errorf("%w: head %d repeated", ErrCorrupt, i)
			}
		}
		seen[heads[i].topic] = append(seen[heads[i].topic], i)
	}
	type ref struct {
		head int
		tail []byte
	}
	refs := make([]ref, n)
	total, used := 0, 0
	for i := range refs {
		hi, ok := r.u16()
		tl, ok2 := r.u32()
		tail, ok3 := r.bytes(tl)
		if !ok || !ok2 || !ok3 {
			return nil, fmt.Errorf("%w: entry %d truncated", ErrCorrupt, i)
		}
		// Heads appear in the order of first use: the next new head is
		// number used.
		if hi > used || hi >= len(heads) {
			return nil, fmt.Errorf("%w: entry %d head %d", ErrCorrupt, i, hi)
		}
		if hi == used {
			used++
		}
		refs[i] = ref{hi, tail}
		total += len(heads[hi].head) + len(tail)
	}
	if used != len(heads) {
		return nil, fmt.Errorf("%w: %d unused heads", ErrCorrupt, len(heads)-used)
	}
	if r.off != len(b) {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(b)-r.off)
	}
	buf := make([]byte, 0, total)
	es := make([]Entry, n)
	for i, rf := range refs {
		h := heads[rf.head]
		start := len(buf)
		buf = append(append(buf, h.head...), rf.tail...)
		es[i] = Entry{Seq: first + int64(i), Topic: h.topic, Payload: buf[start:len(buf):len(buf)], Head: len(h.head),
			Seg: first, Last: i == n-1}
	}
	return es, nil
}

// decompress returns the uncompressed form of a compressed segment: its
// header without segS2, then the body, which may not exceed
// limits.MaxStoredRecordBytes.
func decompress(b []byte) ([]byte, error) {
	size, err := s2.DecodedLen(b[segHeader:])
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if size > limits.MaxStoredRecordBytes {
		return nil, fmt.Errorf("%w: decompresses to %d bytes", ErrCorrupt, size)
	}
	out := make([]byte, segHeader, segHeader+size)
	binary.BigEndian.PutUint32(out, binary.BigEndian.Uint32(b)&^segS2)
	body, err := s2.Decode(out[segHeader:cap(out)], b[segHeader:])
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return out[:segHeader+len(body)], nil
}

// decodeFlat decodes the format without heads.
func decodeFlat(first int64, n int, b []byte) ([]Entry, error) {
	es := make([]Entry, n)
	r := reader{b: b, off: segHeader}
	for i := range es {
		tl, ok := r.u16()
		topic, ok2 := r.bytes(tl)
		pl, ok3 := r.u32()
		payload, ok4 := r.bytes(pl)
		if !ok || !ok2 || !ok3 || !ok4 || tl == 0 {
			return nil, fmt.Errorf("%w: entry %d truncated", ErrCorrupt, i)
		}
		es[i] = Entry{Seq: first + int64(i), Topic: string(topic), Payload: payload, Seg: first, Last: i == n-1}
	}
	if r.off != len(b) {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(b)-r.off)
	}
	return es, nil
}

// reader takes bounded fields off a segment.
type reader struct {
	b   []byte
	off int
}

func (r *reader) u16() (int, bool) {
	if len(r.b)-r.off < 2 {
		return 0, false
	}
	v := binary.BigEndian.Uint16(r.b[r.off:])
	r.off += 2
	return int(v), true
}

func (r *reader) u32() (int, bool) {
	if len(r.b)-r.off < 4 {
		return 0, false
	}
	v := binary.BigEndian.Uint32(r.b[r.off:])
	r.off += 4
	if uint64(v) > uint64(len(r.b)) {
		return 0, false
	}
	return int(v), true
}

func (r *reader) bytes(n int) ([]byte, bool) {
	if n < 0 || len(r.b)-r.off < n {
		return nil, false
	}
	v := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return v, true
}
