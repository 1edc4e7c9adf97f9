package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/tollgate-iot/tollgate/agent/internal/limits"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// Control is what the local API exposes besides ingest: status and
// activation while the agent runs (the database is locked to one process).
type Control interface {
	// Status returns the status document.
	Status() any
	// Activate imports documents and returns what was imported.
	Activate(docs []string) (any, error)
	// Sync runs one sync with the license server now.
	Sync(ctx context.Context) (any, error)
	// ErrorCode maps an Activate or Sync error to a stable code.
	ErrorCode(err error) string
}

// UsageExporter is a Control that also writes air-gap usage receipts
// (POST /v1/export-usage), so a running agent need not be stopped for one.
type UsageExporter interface {
	ExportUsage() (any, error)
}

// activateRequest is the body of POST /v1/activate.
type activateRequest struct {
	Documents []string `json:"documents"`
}

// NewHandler returns the agent's local HTTP API: POST /v1/samples,
// GET /v1/status, POST /v1/activate, POST /v1/sync, GET /healthz and, if
// metrics is not nil, GET /metrics.
func NewHandler(p *Pipeline, ctl Control, metrics http.Handler, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.Default()
	}
	h := &handler{p: p, ctl: ctl, log: log}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/samples", h.samples)
	mux.HandleFunc("GET /v1/status", h.status)
	mux.HandleFunc("POST /v1/activate", h.activate)
	mux.HandleFunc("POST /v1/sync", h.sync)
	if _, ok := ctl.(UsageExporter); ok {
		mux.HandleFunc("POST /v1/export-usage", h.exportUsage)
	}
	if _, ok := ctl.(Redeemer); ok { // online activation (redeem.go)
		mux.HandleFunc("POST /v1/redeem", h.redeem)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	if metrics != nil {
		mux.Handle("GET /metrics", metrics)
	}
	return mux
}

type handler struct {
	p   *Pipeline
	ctl Control
	log *slog.Logger
}

// httpStatus is the one error→HTTP status map of the local API.
func httpStatus(err error) (int, string) {
	switch {
	case errors.Is(err, ErrBadRequest):
		return http.StatusBadRequest, "invalid_request"
	case errors.Is(err, ErrClosed):
		return http.StatusServiceUnavailable, "shutting_down"
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge, "too_large"
	}
	return http.StatusInternalServerError, "internal"
}

func (h *handler) samples(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limits.MaxIngestBodyBytes))
	if err != nil {
		h.fail(w, err)
		return
	}
	samples, err := ParseRequest(body)
	if err != nil {
		h.fail(w, err)
		return
	}
	results, err := h.p.Submit(r.Context(), samples)
	if err != nil {
		h.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, wire.IngestResponse{Results: results})
}

func (h *handler) status(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, h.ctl.Status())
}

func (h *handler) activate(w http.ResponseWriter, r *http.Request) {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limits.MaxActivationFileBytes+4096))
	dec.DisallowUnknownFields()
	var req activateRequest
	if err := dec.Decode(&req); err != nil {
		h.fail(w, fmt.Errorf("%w: %v", ErrBadRequest, err))
		return
	}
	if len(req.Documents) == 0 {
		h.fail(w, fmt.Errorf("%w: no documents", ErrBadRequest))
		return
	}
	out, err := h.ctl.Activate(req.Documents)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, wire.ErrorBody{Error: wire.ErrorDetail{Code: h.ctl.ErrorCode(err), Message: err.Error()}})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"imported": out})
}

// sync runs one sync now; a failed sync is 502 with the sync's code, so
// that `tollgate-agent sync` prints it as it would without a running agent.
func (h *handler) sync(w http.ResponseWriter, r *http.Request) {
	// A sync may outlast the server's write timeout (it is bounded by its
	// own HTTP timeouts and by the caller hanging up): lift it.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
	out, err := h.ctl.Sync(r.Context())
	if err != nil {
		writeJSON(w, http.StatusBadGateway, wire.ErrorBody{Error: wire.ErrorDetail{Code: h.ctl.ErrorCode(err), Message: err.Error()}})
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// exportUsage writes a usage receipt; its body is the Control's answer.
func (h *handler) exportUsage(w http.ResponseWriter, _ *http.Request) {
	out, err := h.ctl.(UsageExporter).ExportUsage()
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, wire.ErrorBody{Error: wire.ErrorDetail{Code: h.ctl.ErrorCode(err), Message: err.Error()}})
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *handler) fail(w http.ResponseWriter, err error) {
	code, name := httpStatus(err)
	if code >= 500 {
		h.log.Error("local API request failed", "err", err)
	}
	writeJSON(w, code, wire.ErrorBody{Error: wire.ErrorDetail{Code: name, Message: err.Error()}})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}
