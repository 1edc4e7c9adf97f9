package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/tollgate-iot/tollgate/shared/redeem"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// Redeemer is a Control that also activates online (POST /v1/redeem): the
// running agent redeems a license serial or enrollment code with its
// license server, so it need not be stopped for that.
type Redeemer interface {
	// Redeem redeems code and returns what was imported.
	Redeem(ctx context.Context, code string) (any, error)
}

// redeemRequest is the body of POST /v1/redeem.
type redeemRequest struct {
	Code string `json:"code"`
}

// maxRedeemBody bounds the body: a code and its JSON frame.
const maxRedeemBody = redeem.MaxCodeLen + 64

// redeem is POST /v1/redeem; a refusal is 502 with the server's code, as
// for a sync, so that `tollgate-agent activate CODE` prints it as it would
// without a running agent.
func (h *handler) redeem(w http.ResponseWriter, r *http.Request) {
	// Bounded by the sync client's own HTTP timeouts, not the write timeout.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRedeemBody))
	dec.DisallowUnknownFields()
	var req redeemRequest
	if err := dec.Decode(&req); err != nil {
		var mbe *http.MaxBytesError
		if !errors.As(err, &mbe) {
			err = fmt.Errorf("%w: %v", ErrBadRequest, err)
		}
		h.fail(w, err)
		return
	}
	if err := redeem.CheckCode(redeem.NormalizeCode(req.Code)); err != nil {
		h.fail(w, fmt.Errorf("%w: %v", ErrBadRequest, err))
		return
	}
	out, err := h.ctl.(Redeemer).Redeem(r.Context(), req.Code)
	if err != nil {
		writeJSON(w, http.StatusBadGateway, wire.ErrorBody{Error: wire.ErrorDetail{Code: h.ctl.ErrorCode(err), Message: err.Error()}})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"imported": out})
}
