package ingest

import (
	"context"
	"fmt"

	"github.com/tollgate-iot/tollgate/agent/internal/store"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// SubmitMarked is Submit, and for every accepted sample i with a non-nil
// marks[i] it also writes marks[i] → the sample's seq (store.SetInt) in
// the transaction that commits the sample. After a crash the caller can
// thus tell, from the store alone, which of its samples were committed
// and under which seq — the bridge recognizes a local broker's
// redelivery this way. marks is nil or one key per sample.
func (p *Pipeline) SubmitMarked(ctx context.Context, samples []wire.Sample, marks [][]byte) ([]wire.Result, error) {
	if marks != nil && len(marks) != len(samples) {
		return nil, fmt.Errorf("ingest: %d marks for %d samples", len(marks), len(samples))
	}
	return p.submit(ctx, &request{samples: samples, results: make([]wire.Result, len(samples)),
		done: make(chan struct{}), marks: marks})
}

// mark is a key to set to an accepted sample's seq in its transaction.
type mark struct {
	key []byte
	res *wire.Result
}

// noteMark records sample idx's mark, if any, once add assigned its seq.
func (c *chunk) noteMark(r *request, idx int) {
	if r.marks == nil || r.marks[idx] == nil {
		return
	}
	c.marks = append(c.marks, mark{key: r.marks[idx], res: &r.results[idx]})
	c.bytes += len(r.marks[idx]) + perEntryBytes
}

// writeMarks sets the chunk's marks inside its transaction.
func (c *chunk) writeMarks(txn *store.Txn) error {
	for _, m := range c.marks {
		if err := store.SetInt(txn, m.key, m.res.Seq); err != nil {
			return err
		}
	}
	return nil
}
