package console

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/tollgate-iot/tollgate/server/internal/api"
	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/shared/airgap"
	"github.com/tollgate-iot/tollgate/shared/limits"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// The air-gap page: a site without a network brings files. Upload an
// activation request (tollgate-agent request) with the license to bind and
// get the activation key file back, as POST /v1/activations/offline; upload
// a usage receipt (tollgate-agent export-usage) and see what it reconciled,
// as POST /v1/usage/import. The files are read with the parsers the API
// uses and bounded by the same limits.

// MaxUploadBytes bounds an upload post: the largest file either form takes
// (a usage receipt) and room for the form's other fields.
const MaxUploadBytes = wire.MaxUsageReceiptBytes + 16<<10

func (c *Console) routesAirGap(m *http.ServeMux) {
	m.HandleFunc("GET /console/air-gap", c.authed(c.airGap))
	m.HandleFunc("POST /console/air-gap/activate", c.authedWith(parseUpload, c.activateUpload))
	m.HandleFunc("POST /console/air-gap/usage", c.authedWith(parseUpload, c.usageUpload))
}

type airGapData struct {
	License string
	// Import is what a usage receipt reconciled.
	Import *wire.UsageImport
}

func (c *Console) airGap(w http.ResponseWriter, r *http.Request, s *ledger.Session) {
	c.render(w, http.StatusOK, "airgap", page{Title: "Air-gapped sites", Session: s, Data: airGapData{}})
}

// parseUpload reads a bounded multipart form, every part in memory.
func parseUpload(w http.ResponseWriter, r *http.Request) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		return fmt.Errorf("%w: want a multipart/form-data upload", api.ErrBadQuery)
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxUploadBytes)
	if err := r.ParseMultipartForm(MaxUploadBytes); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return api.ErrBodyTooLarge
		}
		return fmt.Errorf("%w: upload: %v", api.ErrBadQuery, err)
	}
	return nil
}

// uploaded returns the one file of field, at most max bytes.
func uploaded(r *http.Request, field string, max int) ([]byte, error) {
	fs := r.MultipartForm.File[field]
	if len(fs) != 1 {
		return nil, fmt.Errorf("%w: choose one file for %s", ledger.ErrInvalid, field)
	}
	if fs[0].Size > int64(max) {
		return nil, fmt.Errorf("%w: %s is %d bytes, at most %d", api.ErrBodyTooLarge, field, fs[0].Size, max)
	}
	f, err := fs[0].Open()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, int64(max)+1))
}

// airGapRefused shows a refusal on the page, or fails.
func (c *Console) airGapRefused(w http.ResponseWriter, r *http.Request, s *ledger.Session, err error, d airGapData) {
	status, code, msg := describe(err)
	if status == http.StatusInternalServerError {
		c.failErr(w, r, s, err)
		return
	}
	c.render(w, status, "airgap", page{Title: "Air-gapped sites", Session: s, Data: d, Error: &pageError{Status: status, Code: code, Message: msg}})
}

// activateUpload answers the activation key file itself, to save and
// carry to the site.
func (c *Console) activateUpload(w http.ResponseWriter, r *http.Request, s *ledger.Session) {
	d := airGapData{License: strings.TrimSpace(r.PostForm.Get("license"))}
	file, err := uploaded(r, "request", limits.MaxAirgapFileBytes)
	var res *ledger.ActivationKeyResult
	if err == nil {
		var ar *airgap.ActivationRequest
		if ar, err = airgap.ParseActivationRequest(file); err == nil {
			res, err = c.lg.ActivateOffline(r.Context(), s.Actor, ar, d.License)
		}
	}
	if err != nil {
		c.airGapRefused(w, r, s, err, d)
		return
	}
	c.log.Info("offline activation", "device_id", res.Key.DeviceID, "license_id", d.License, "seq", res.Key.Seq, "via", "console")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s.activation"`, res.Key.DeviceID))
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write(res.File); err != nil {
		c.log.Debug("activation key write", "error", err)
	}
}

// usageUpload imports a usage receipt and shows what it reconciled.
func (c *Console) usageUpload(w http.ResponseWriter, r *http.Request, s *ledger.Session) {
	file, err := uploaded(r, "receipt", wire.MaxUsageReceiptBytes)
	var res *ledger.ReceiptResult
	if err == nil {
		rep, oerr := api.OpenReceipt(r.Context(), c.lg, s.Actor, file)
		if err = oerr; err == nil {
			res, err = c.lg.ImportReceipt(r.Context(), s.Actor, rep)
		}
	}
	if err != nil {
		c.airGapRefused(w, r, s, err, airGapData{})
		return
	}
	out := api.UsageImportOf(res)
	c.render(w, http.StatusOK, "airgap", page{Title: "Usage receipt imported", Session: s, Data: airGapData{Import: &out}})
}
