package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/tollgate-iot/tollgate/agent/internal/limits"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// ErrBadRequest reports an ingest body that does not parse as one sample or
// a batch.
var ErrBadRequest = errors.New("invalid ingest request")

// ParseRequest strictly decodes a POST /v1/samples body: one JSON document,
// no unknown fields, no trailing data, either one sample or a non-empty
// batch of at most limits.MaxBatchSamples. Samples themselves are validated
// one by one by Submit, so that one bad sample does not refuse a batch.
func ParseRequest(body []byte) ([]wire.Sample, error) {
	if len(body) > limits.MaxIngestBodyBytes {
		return nil, fmt.Errorf("%w: body is %d bytes, at most %d", ErrBadRequest, len(body), limits.MaxIngestBodyBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var req wire.IngestRequest
	if err := dec.Decode(&req); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: trailing data after the JSON document", ErrBadRequest)
	}
	if req.Samples == nil {
		return []wire.Sample{{DeviceID: req.DeviceID, TS: req.TS, Data: req.Data}}, nil
	}
	if req.DeviceID != "" || req.TS != "" || req.Data != nil {
		return nil, fmt.Errorf("%w: a batch carries its samples in \"samples\" only", ErrBadRequest)
	}
	if len(req.Samples) == 0 || len(req.Samples) > limits.MaxBatchSamples {
		return nil, fmt.Errorf("%w: a batch holds 1..%d samples, not %d", ErrBadRequest, limits.MaxBatchSamples, len(req.Samples))
	}
	return req.Samples, nil
}
