package outbox

import (
	"encoding/binary"
	"fmt"

	"github.com/tollgate-iot/tollgate/agent/internal/limits"
)

// A segment is one badger record holding consecutive entries, keyed by its
// first sequence:
//
//	count (4 bytes) then, per entry: topic length (2), topic,
//	payload length (4), payload
//
// Sequences are implicit: first, first+1, …
const (
	segHeader   = 4
	entryHeader = 2 + 4
)

// encodedSize is the bytes an entry takes in a segment.
func encodedSize(e *Entry) int { return entryHeader + len(e.Topic) + len(e.Payload) }

func encodeSegment(es []Entry) []byte {
	n := segHeader
	for i := range es {
		n += encodedSize(&es[i])
	}
	b := make([]byte, 0, n)
	b = binary.BigEndian.AppendUint32(b, uint32(len(es)))
	for i := range es {
		b = binary.BigEndian.AppendUint16(b, uint16(len(es[i].Topic)))
		b = append(b, es[i].Topic...)
		b = binary.BigEndian.AppendUint32(b, uint32(len(es[i].Payload)))
		b = append(b, es[i].Payload...)
	}
	return b
}

// segmentCount returns the number of entries in a segment without decoding
// them.
func segmentCount(b []byte) (int, error) {
	if len(b) < segHeader {
		return 0, fmt.Errorf("%w: segment of %d bytes", ErrCorrupt, len(b))
	}
	n := int(binary.BigEndian.Uint32(b))
	if n == 0 || n > limits.SegmentBytes/entryHeader {
		return 0, fmt.Errorf("%w: segment count %d", ErrCorrupt, n)
	}
	return n, nil
}

// decodeSegment decodes the segment starting at first; the entries alias b
// only for their payloads' backing array, which is b itself.
func decodeSegment(first int64, b []byte) ([]Entry, error) {
	n, err := segmentCount(b)
	if err != nil {
		return nil, err
	}
	es := make([]Entry, n)
	off := segHeader
	for i := range es {
		if len(b)-off < 2 {
			return nil, fmt.Errorf("%w: entry %d truncated", ErrCorrupt, i)
		}
		tl := int(binary.BigEndian.Uint16(b[off:]))
		off += 2
		if tl == 0 || len(b)-off < tl+4 {
			return nil, fmt.Errorf("%w: entry %d topic", ErrCorrupt, i)
		}
		topic := string(b[off : off+tl])
		off += tl
		pl := int(binary.BigEndian.Uint32(b[off:]))
		off += 4
		if pl > len(b)-off {
			return nil, fmt.Errorf("%w: entry %d payload", ErrCorrupt, i)
		}
		es[i] = Entry{Seq: first + int64(i), Topic: topic, Payload: b[off : off+pl : off+pl], Seg: first, Last: i == n-1}
		off += pl
	}
	if off != len(b) {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(b)-off)
	}
	return es, nil
}
