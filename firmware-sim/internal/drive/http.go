package drive

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/tollgate-iot/tollgate/firmware-sim/internal/fleet"
	"github.com/tollgate-iot/tollgate/firmware-sim/internal/limits"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// ErrAgent reports an agent that did not answer a batch as the ingest
// contract says.
var ErrAgent = errors.New("agent ingest")

// httpSender batches samples into POST /v1/samples requests of at most
// limits.MaxBatchSamples and counts each answer against its device.
type httpSender struct {
	t    *fleet.Target
	body []byte
	devs []*Device
}

func newHTTPSender(t *fleet.Target) *httpSender {
	return &httpSender{t: t, body: make([]byte, 0, 64<<10), devs: make([]*Device, 0, limits.MaxBatchSamples)}
}

func (s *httpSender) add(ctx context.Context, d *Device, ts time.Time) error {
	if len(s.devs) == 0 {
		s.body = append(s.body[:0], `{"samples":[`...)
	} else {
		s.body = append(s.body, ',')
	}
	s.body = d.AppendSample(s.body, ts)
	s.devs = append(s.devs, d)
	if len(s.devs) == limits.MaxBatchSamples {
		return s.flush(ctx)
	}
	return nil
}

func (s *httpSender) flush(ctx context.Context) error {
	if len(s.devs) == 0 {
		return nil
	}
	s.body = append(s.body, "]}"...)
	res, err := s.post(ctx)
	if err != nil {
		return err
	}
	for i, r := range res {
		d := s.devs[i]
		if r.Accepted {
			d.Accepted++
		} else {
			d.Refused[r.Reason]++
		}
	}
	s.devs = s.devs[:0]
	return nil
}

func (s *httpSender) post(ctx context.Context) ([]wire.Result, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.t.Base+"/v1/samples", bytes.NewReader(s.body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.t.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrAgent, s.t.Name, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, limits.MaxResponseBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrAgent, s.t.Name, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: %s: HTTP %d: %.300s", ErrAgent, s.t.Name, resp.StatusCode, b)
	}
	return ParseIngestResponse(b, len(s.devs))
}

// ParseIngestResponse strictly decodes an answer to a batch of n samples:
// exactly n results, each accepted or refused with a reason.
func ParseIngestResponse(b []byte, n int) ([]wire.Result, error) {
	if len(b) > limits.MaxResponseBytes {
		return nil, fmt.Errorf("%w: answer over %d bytes", ErrAgent, limits.MaxResponseBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var r wire.IngestResponse
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("%w: answer: %v", ErrAgent, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data after the answer", ErrAgent)
	}
	if len(r.Results) != n {
		return nil, fmt.Errorf("%w: %d results for %d samples", ErrAgent, len(r.Results), n)
	}
	for i, x := range r.Results {
		if x.Accepted == (x.Reason != "") || len(x.Reason) > limits.MaxReasonBytes {
			return nil, fmt.Errorf("%w: result %d is neither accepted nor refused with a reason", ErrAgent, i)
		}
	}
	return r.Results, nil
}
