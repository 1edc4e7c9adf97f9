package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"
	"unsafe"

	"github.com/tollgate-iot/tollgate/server/internal/ledger"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// Errors of the device sync endpoint found before the ledger.
var (
	// ErrNotTextPlain reports a sync body that is not text/plain.
	ErrNotTextPlain = errors.New("content type must be text/plain")
	// ErrUnknownDevice reports a sync request from a device the server
	// does not know.
	ErrUnknownDevice = errors.New("unknown device")
	// ErrStale reports a sync request whose sent_at is outside SyncWindow
	// of the server's time.
	ErrStale = errors.New("stale sync request")
	// ErrReplay reports a sync request whose nonce was already seen.
	ErrReplay = ledger.ErrReplay
)

// deviceSync is POST /v1/device/sync (docs/sync.md): the body is a signed
// sync request, authenticated by the device key rather than an API key;
// the answer is the signed sync response, both as text.
func (a *API) deviceSync(w http.ResponseWriter, r *http.Request) {
	lease, req, err := a.readSync(w, r)
	defer lease.close() // the body's bytes stay counted until the answer is written
	if err != nil {
		a.fail(w, r, err)
		return
	}
	start := a.clock.Now()
	answer, err := a.syncText(r.Context(), req)
	result := "ok"
	if err != nil {
		_, result = Status(err)
	}
	a.m.Observe("tollgate_sync_duration_seconds", a.clock.Now().Sub(start).Seconds(), result)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if _, err := io.WriteString(w, answer); err != nil {
		a.log.Debug("sync answer write", "error", err)
	}
}

// readSync reads a sync request body as little as it can before the
// request is known to come from a registered key: the content type and
// declared length first, then the document's head (version, kind, key id),
// and only for a key the server holds the rest, counted against the body
// budget as it arrives. One trailing line ending is dropped, so that a file
// sent with curl --data-binary works.
func (a *API) readSync(w http.ResponseWriter, r *http.Request) (*bodyLease, syncRequest, error) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "text/plain" {
		return nil, syncRequest{}, ErrNotTextPlain
	}
	if r.ContentLength > MaxSyncBodyBytes {
		return nil, syncRequest{}, fmt.Errorf("%w: Content-Length %d, at most %d bytes", ErrBodyTooLarge, r.ContentLength, MaxSyncBodyBytes)
	}
	// The head needs no place in the budget: it is on the stack, and a
	// sender who cannot name a registered key never gets one.
	body := http.MaxBytesReader(w, r.Body, MaxSyncBodyBytes)
	var head [syncHeadBytes]byte
	n, err := io.ReadFull(body, head[:])
	keyID := ""
	var holders map[string]string
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		// The whole body is shorter than a head: the parser names why.
	case err != nil:
		return nil, syncRequest{}, readErr(err)
	default:
		if holders, keyID, err = a.checkSyncHead(r.Context(), string(head[:])); err != nil {
			return nil, syncRequest{}, err
		}
	}
	lease, err := a.bodies.enter(keyID)
	if err != nil {
		return nil, syncRequest{}, err
	}
	b, err := lease.readAll(body, head[:n], r.ContentLength, MaxSyncBodyBytes)
	if err != nil || len(b) == 0 {
		if err == nil {
			err = fmt.Errorf("%w: empty body", token.ErrMalformed)
		}
		return lease, syncRequest{}, err
	}
	// The text shares the buffer the budget counts (a copy would hold
	// the body twice); the buffer is never written again.
	s := unsafe.String(unsafe.SliceData(b), len(b))
	s = strings.TrimSuffix(strings.TrimSuffix(s, "\n"), "\r")
	if s == "" {
		return lease, syncRequest{}, fmt.Errorf("%w: empty body", token.ErrMalformed)
	}
	return lease, syncRequest{text: s, holders: holders}, nil
}

// syncRequest is a sync request's text and the devices holding the key id
// its head names, with their keys' fingerprints (DeviceKeyHolders; nil
// when the body was too short to have a head).
type syncRequest struct {
	text    string
	holders map[string]string
}

// checkSyncHead checks the head of a sync request — "tg1.syq.KEYID." —
// and that a registered device holds the key it names, and returns the
// holders (DeviceKeyHolders) and the key id. A head of any other shape is
// refused with the parser's own verdict on it: the error a whole document
// starting so would get.
func (a *API) checkSyncHead(ctx context.Context, head string) (map[string]string, string, error) {
	want := token.FormatVersion + "." + token.KindSyncRequest.String() + "."
	keyID, ok := strings.CutPrefix(head, want)
	if ok {
		keyID, ok = strings.CutSuffix(keyID, ".")
	}
	if !ok || len(keyID) != token.KeyIDLen || strings.Trim(keyID, "0123456789abcdef") != "" {
		_, err := token.Parse(token.KindSyncRequest, head)
		if err == nil { // a head is never a whole document; be safe anyway
			err = fmt.Errorf("%w: sync request does not start with %q and a key id", token.ErrMalformed, want)
		}
		return nil, "", err
	}
	holders, err := a.lg.DeviceKeyHolders(ctx, keyID)
	if err != nil {
		return nil, "", err
	}
	if len(holders) == 0 {
		return nil, "", fmt.Errorf("%w: no registered device holds key %s", ErrUnknownDevice, keyID)
	}
	return holders, keyID, nil
}

// syncText verifies, checks freshness, reconciles and signs the answer.
func (a *API) syncText(ctx context.Context, req syncRequest) (string, error) {
	rep, err := a.openSync(ctx, req)
	if err != nil {
		return "", err
	}
	// Freshness is judged on the agent's wall clock (sent_wall), not its
	// effective time, which a simulation clock may have run days ahead;
	// reports of agents without sent_wall are judged on sent_at.
	now := a.clock.Now()
	sent, field := time.Unix(rep.FreshAt(), 0), "sent_wall"
	if rep.SentWall == 0 {
		field = "sent_at"
	}
	if d := now.Sub(sent); d > SyncWindow || d < -SyncWindow {
		return "", fmt.Errorf("%w: %s %s is %s from server time (window ±%s)", ErrStale, field,
			sent.UTC().Format(time.RFC3339), d.Round(time.Second), SyncWindow)
	}
	// The nonce is claimed in the ledger, in the transaction that applies
	// the report, so that every replica over the store refuses a replay.
	resp, err := a.lg.ReconcileSync(ctx, rep.DeviceID, rep, sent.Add(SyncWindow))
	if err != nil {
		return "", err
	}
	resp.Nonce = rep.Nonce
	a.log.Debug("device sync", "device_id", rep.DeviceID, "deductions", len(rep.Deductions),
		"counts", len(rep.Counts), "acked_seq", resp.AckedSeq, "missing_ranges", len(resp.Missing))
	return a.lg.SignSyncResponse(resp)
}

// openSync verifies the request against the registered key of the device
// it names; nothing of it is trusted before.
//
// When the head check found the device among its key id's holders and
// that key was parsed before, the key is taken by its fingerprint; else
// the device's record is read for it.
func (a *API) openSync(ctx context.Context, req syncRequest) (*syncproto.Report, error) {
	return syncproto.OpenReportOf(token.KindSyncRequest, req.text, func(id string) (*token.Trust, error) {
		if fp, ok := req.holders[id]; ok {
			if t, ok := deviceTrusts.byFingerprint(fp); ok {
				return t, nil
			}
		}
		key, err := a.lg.DeviceKeyText(ctx, id)
		if errors.Is(err, ledger.ErrNotFound) {
			return nil, fmt.Errorf("%w: %s", ErrUnknownDevice, id)
		}
		if err != nil {
			return nil, err
		}
		return deviceTrusts.get(key)
	})
}
