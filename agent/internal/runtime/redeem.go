package runtime

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	agentlimits "github.com/tollgate-iot/tollgate/agent/internal/limits"
	"github.com/tollgate-iot/tollgate/agent/internal/store"
	"github.com/tollgate-iot/tollgate/agent/internal/syncer"
	"github.com/tollgate-iot/tollgate/shared/limits"
	"github.com/tollgate-iot/tollgate/shared/redeem"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
	"github.com/tollgate-iot/tollgate/shared/token"
	"github.com/tollgate-iot/tollgate/shared/wire"
)

// ErrRedeemRefused reports an error answer of the license server to an
// online activation; the *syncer.Error around it carries the server's code
// (unknown_code, license_bound, model_mismatch, too_many_failures, …).
var ErrRedeemRefused = errors.New("license server refused the activation")

// Redeem activates the device online (docs/agent.md "Online activation"):
// it sends the server a request signed by the device key that redeems code
// — a license serial or an enrollment code — and imports the signed answer
// through the activation path: server time into the effective clock, then
// the revocation list and the device's tokens. It returns what was
// imported; no license token among them means the device was registered
// without a license (an enrollment code without a license pool).
func (a *Agent) Redeem(ctx context.Context, code string) ([]Imported, error) {
	if a.trust == nil {
		return nil, ErrNoTrust
	}
	url := strings.TrimSuffix(a.serverURL(), "/")
	if url == "" {
		return nil, &syncer.Error{Code: "no_server", Err: syncer.ErrNoServer}
	}
	var tlsc *tls.Config
	if strings.HasPrefix(url, "https://") {
		var err error
		if tlsc, err = a.serverTLS(url); err != nil {
			return nil, err
		}
	}
	hc := syncer.NewHTTPClient(tlsc)
	req := redeem.Request{DeviceID: a.id.DeviceID, Model: a.id.Model, PublicKey: a.id.PublicKey,
		CreatedAt: a.effSeconds(), Code: redeem.NormalizeCode(code)}
	answer, date, err := a.postRedeem(ctx, hc, url, &req)
	var se *syncer.Error
	if errors.As(err, &se) && se.Code == "stale_request" && !date.IsZero() {
		// The device's clock is off (a gateway booted at 1970): ask again
		// at the server's time from its Date header. That time only dates
		// the request; the effective clock learns the signed server_time.
		a.log.Warn("activation request refused as stale; retrying at the server's time", "server_time", date.UTC().Format(time.RFC3339))
		req.CreatedAt = date.Unix()
		answer, _, err = a.postRedeem(ctx, hc, url, &req)
	}
	if err != nil {
		return nil, err
	}
	resp, err := syncproto.OpenResponse(a.trust, a.id.DeviceID, req.Nonce, answer)
	if err != nil {
		return nil, &syncer.Error{Code: "bad_answer", Err: fmt.Errorf("%w: %w", syncer.ErrBadAnswer, err)}
	}
	return a.applyRedeemed(resp)
}

// postRedeem signs req with a fresh nonce and posts it; it returns the
// answer's text, or the refusal and the server's Date header (zero when
// there is none).
func (a *Agent) postRedeem(ctx context.Context, hc *http.Client, url string, req *redeem.Request) (string, time.Time, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", time.Time{}, fmt.Errorf("activation nonce: %w", err)
	}
	req.Nonce = base64.RawURLEncoding.EncodeToString(b[:])
	text, err := redeem.Sign(a.priv, req)
	if err != nil {
		return "", time.Time{}, err
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, url+redeem.Path, strings.NewReader(text))
	if err != nil {
		return "", time.Time{}, &syncer.Error{Code: "no_server", Err: fmt.Errorf("%w: %v", syncer.ErrNoServer, err)}
	}
	hr.Header.Set("Content-Type", "text/plain")
	resp, err := hc.Do(hr)
	if err != nil {
		return "", time.Time{}, &syncer.Error{Code: "network", Err: fmt.Errorf("%w: %v", syncer.ErrNetwork, err)}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, agentlimits.MaxSyncErrorBytes))
		var e wire.ErrorBody
		_ = json.Unmarshal(body, &e)
		code, msg := e.Error.Code, e.Error.Message
		if code == "" {
			code = fmt.Sprintf("http_%d", resp.StatusCode)
		}
		if msg == "" {
			msg = http.StatusText(resp.StatusCode)
		}
		out := &syncer.Error{Code: code, Status: resp.StatusCode, Err: fmt.Errorf("%w: HTTP %d: %s", ErrRedeemRefused, resp.StatusCode, msg)}
		date, _ := http.ParseTime(resp.Header.Get("Date"))
		return "", date, out
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limits.MaxSignedDocumentBytes+1))
	if err != nil {
		return "", time.Time{}, &syncer.Error{Code: "network", Err: fmt.Errorf("%w: %v", syncer.ErrNetwork, err)}
	}
	if len(body) > limits.MaxSignedDocumentBytes {
		return "", time.Time{}, &syncer.Error{Code: "bad_answer", Err: fmt.Errorf("%w: answer over %d bytes", syncer.ErrBadAnswer, limits.MaxSignedDocumentBytes)}
	}
	return strings.TrimSpace(string(body)), time.Time{}, nil
}

// applyRedeemed takes in a verified answer: the server time (persisted),
// then its documents through Activate. A revocation list the agent holds
// already is reported unchanged rather than refused as not newer.
func (a *Agent) applyRedeemed(r *syncproto.Response) ([]Imported, error) {
	a.clk.ObserveServerTime(r.ServerTime)
	if err := a.st.PutJSON(store.KeyClock(), a.clk.State()); err != nil {
		return nil, err
	}
	docs := r.Tokens
	var same []Imported
	if r.RevocationList != "" {
		rl, err := token.ParseRevocationList(a.trust, r.RevocationList)
		if err != nil {
			return nil, err
		}
		if held := a.gate.Revocation(); held != nil && held.Seq == rl.Seq {
			same = append(same, Imported{Kind: "revocation_list", ID: fmt.Sprint(rl.Seq), Version: rl.Seq, Result: "unchanged"})
		} else {
			docs = append([]string{r.RevocationList}, docs...)
		}
	}
	if len(docs) == 0 {
		return same, nil
	}
	imported, err := a.Activate(docs)
	return append(same, imported...), err
}

// Redeem lets the running agent's control API activate online
// (ingest.Redeemer).
func (c control) Redeem(ctx context.Context, code string) (any, error) {
	imported, err := c.a.Redeem(ctx, code)
	if imported == nil {
		imported = []Imported{}
	}
	return imported, err
}
