package store_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/tollgate-iot/tollgate/server/internal/store"
)

// dumpErrors are the errors a dump reader may return for bad bytes.
var dumpErrors = []error{store.ErrDumpNotADump, store.ErrDumpVersion, store.ErrDumpTruncated,
	store.ErrDumpChecksum, store.ErrDumpRecordTooBig, store.ErrDumpCorrupt}

// FuzzDumpReader feeds the dump reader arbitrary bytes: it never panics,
// refuses with one of its named errors, and what it accepts is exactly
// what DumpWriter writes for the same records (no second encoding of one
// content is accepted).
func FuzzDumpReader(f *testing.F) {
	good := goodRaw().bytes()
	f.Add(good)
	f.Add(rawDump{version: store.DumpVersion, engine: "postgres", created: 1, count: -1}.bytes())
	for _, tc := range damagedDumps(f, good) {
		f.Add(tc.file)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		dr, err := store.NewDumpReader(bytes.NewReader(b))
		var records [][2][]byte
		for err == nil {
			var k, v []byte
			if k, v, err = dr.Next(); err == nil {
				records = append(records, [2][]byte{bytes.Clone(k), bytes.Clone(v)})
			}
		}
		if !errors.Is(err, io.EOF) {
			for _, want := range dumpErrors {
				if errors.Is(err, want) {
					return
				}
			}
			t.Fatalf("reader error %v is none of the named dump errors", err)
		}
		var out bytes.Buffer
		dw, err := store.NewDumpWriter(&out, dr.Info().Engine, dr.Info().Created)
		if err != nil {
			t.Fatalf("accepted header does not write: %v", err)
		}
		for _, r := range records {
			if err := dw.Add(r[0], r[1]); err != nil {
				t.Fatalf("accepted record does not write: %v", err)
			}
		}
		info, err := dw.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), b) {
			t.Fatalf("accepted %d bytes that DumpWriter writes as %d other bytes", len(b), out.Len())
		}
		if got := dr.Info(); got.Records != int64(len(records)) || got.Digest != info.Digest {
			t.Fatalf("reader info %+v, writer info %+v", got, info)
		}
	})
}
