package syncer

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/tollgate-iot/tollgate/agent/internal/store"
	"github.com/tollgate-iot/tollgate/shared/limits"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
	"github.com/tollgate-iot/tollgate/shared/token"
)

func testSigner(t *testing.T, name string) *token.Signer {
	t.Helper()
	seed := sha256.Sum256([]byte("syncer test key: " + name))
	s, err := token.NewSigner(ed25519.NewKeyFromSeed(seed[:]))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func trustOf(t *testing.T, s *token.Signer) *token.Trust {
	t.Helper()
	tr, err := token.NewTrust(s.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// fakeServer verifies each report with the device key and answers what
// answer returns for it (a status and body, or a Response to sign).
type fakeServer struct {
	t        *testing.T
	dev      *token.Trust
	srv      *token.Signer
	reports  []*syncproto.Report
	inflight atomic.Int32
	answer   func(r *syncproto.Report) (int, string, *syncproto.Response)
}

func (f *fakeServer) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if f.inflight.Add(1) > 1 {
		f.t.Error("two reports in flight at once")
	}
	defer f.inflight.Add(-1)
	if req.URL.Path != SyncPath || req.Header.Get("Content-Type") != "text/plain" {
		f.t.Errorf("request %s %s", req.URL.Path, req.Header.Get("Content-Type"))
	}
	b, _ := io.ReadAll(req.Body)
	rep, err := syncproto.OpenReport(f.dev, token.KindSyncRequest, string(b))
	if err != nil {
		f.t.Errorf("report does not verify: %v", err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	f.reports = append(f.reports, rep)
	code, body, resp := f.answer(rep)
	if resp != nil {
		text, err := syncproto.SignResponse(f.srv, resp)
		if err != nil {
			f.t.Fatal(err)
		}
		body = text
	}
	w.WriteHeader(code)
	io.WriteString(w, body)
}

// ackAll answers a report by acknowledging everything in it.
func ackAll(r *syncproto.Report) (int, string, *syncproto.Response) {
	acked := int64(0)
	if n := len(r.Deductions); n > 0 {
		acked = r.Deductions[n-1].Seq
	}
	return 200, "", &syncproto.Response{DeviceID: r.DeviceID, Nonce: r.Nonce, ServerTime: t0 + 60,
		AckedSeq: acked, Missing: []syncproto.SeqRange{}, Tokens: []string{}}
}

type harness struct {
	st      *store.Store
	fake    *fakeServer
	client  *Client
	applied []*syncproto.Response
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	dev, srv := testSigner(t, "gw-1"), testSigner(t, "server")
	h := &harness{st: openStore(t)}
	h.fake = &fakeServer{t: t, dev: trustOf(t, dev), srv: srv, answer: ackAll}
	hs := httptest.NewServer(h.fake)
	t.Cleanup(hs.Close)
	c, err := New(Options{URL: hs.URL + "/", HTTP: NewHTTPClient(nil), Store: h.st, Signer: dev,
		Trust: trustOf(t, srv), DeviceID: "gw-1", Devices: []string{"gw-1"},
		Held: func() Held { return Held{} }, Now: func() int64 { return t0 }, Logger: slog.New(slog.DiscardHandler),
		Apply: func(_ context.Context, r *syncproto.Response) error { h.applied = append(h.applied, r); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	h.client = c
	return h
}

func TestSyncPagesOneReportAtATime(t *testing.T) {
	h := newHarness(t)
	putDeductions(t, h.st, "gw-1", 1, limits.MaxSyncDeductions+3)
	putBucket(t, h.st, "gw-1", h0, 5, 0)
	res, err := h.client.Sync(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Reports != 2 || res.Deductions != limits.MaxSyncDeductions+3 || res.AckedSeq != int64(limits.MaxSyncDeductions+3) {
		t.Fatalf("result %+v", res)
	}
	seen := map[int64]int{}
	nonces := map[string]bool{}
	for _, r := range h.fake.reports {
		nonces[r.Nonce] = true
		for _, d := range r.Deductions {
			seen[d.Seq]++
		}
	}
	if len(seen) != limits.MaxSyncDeductions+3 || len(nonces) != 2 || len(h.applied) != 2 {
		t.Fatalf("%d seqs, %d nonces, %d answers applied", len(seen), len(nonces), len(h.applied))
	}
	// Nothing new: one report with the last hour only.
	res, err = h.client.Sync(context.Background())
	if err != nil || res.Reports != 1 || res.Deductions != 0 || res.Counts != 1 {
		t.Fatalf("second sync %+v, %v", res, err)
	}
	if at, _ := h.st.Int(store.KeyLastSync()); at != t0 {
		t.Fatalf("last sync %d", at)
	}
}

// TestSyncResendsWhatAServerAckedOnlyInPart: a server that takes a prefix
// of a report (its transaction was too small) gets the rest at once.
func TestSyncResendsWhatAServerAckedOnlyInPart(t *testing.T) {
	h := newHarness(t)
	putDeductions(t, h.st, "gw-1", 1, 10)
	h.fake.answer = func(r *syncproto.Report) (int, string, *syncproto.Response) {
		_, _, resp := ackAll(r)
		if n := len(r.Deductions); n > 3 {
			resp.AckedSeq = r.Deductions[2].Seq
		}
		return 200, "", resp
	}
	res, err := h.client.Sync(context.Background())
	if err != nil || res.AckedSeq != 10 || res.Reports != 4 {
		t.Fatalf("result %+v, %v", res, err)
	}
}

func TestSyncStopsWhenAServerGapDoesNotMove(t *testing.T) {
	h := newHarness(t)
	putDeductions(t, h.st, "gw-1", 5, limits.MaxSyncDeductions+3) // 1..4 lost locally
	h.fake.answer = func(r *syncproto.Report) (int, string, *syncproto.Response) {
		_, _, resp := ackAll(r)
		resp.AckedSeq = 0
		resp.Missing = []syncproto.SeqRange{{From: 1, To: 4}}
		return 200, "", resp
	}
	res, err := h.client.Sync(context.Background())
	if err != nil || res.Reports != 1 || len(res.Missing) != 1 {
		t.Fatalf("result %+v, %v", res, err)
	}
}

func TestSyncErrors(t *testing.T) {
	stranger := testSigner(t, "stranger")
	tests := []struct {
		name   string
		answer func(r *syncproto.Report) (int, string, *syncproto.Response)
		code   string
		retry  bool
		is     error
	}{
		{"stale-request", refuse(409, "stale_request"), "stale_request", true, ErrRefused},
		{"replay", refuse(409, "replay"), "replay", true, ErrRefused},
		{"counter-went-down", refuse(409, "counter_went_down"), "counter_went_down", false, ErrRefused},
		{"invalid-report", refuse(400, "invalid_report"), "invalid_report", false, ErrRefused},
		{"unknown-device", refuse(401, "unknown_device"), "unknown_device", false, ErrRefused},
		{"internal", refuse(500, "internal"), "internal", true, ErrRefused},
		{"no-code", func(*syncproto.Report) (int, string, *syncproto.Response) { return 503, "busy", nil }, "http_503", true, ErrRefused},
		{"garbage-answer", func(*syncproto.Report) (int, string, *syncproto.Response) { return 200, "tg1.sys.x.y", nil }, "bad_answer", false, ErrBadAnswer},
		{"answer-by-stranger", func(r *syncproto.Report) (int, string, *syncproto.Response) {
			_, _, resp := ackAll(r)
			text, _ := syncproto.SignResponse(stranger, resp)
			return 200, text, nil
		}, "bad_answer", false, token.ErrUnknownKey},
		{"replayed-answer", func(r *syncproto.Report) (int, string, *syncproto.Response) {
			_, _, resp := ackAll(r)
			resp.Nonce = "BBBBBBBBBBBBBBBBBBBBBB"
			return 200, "", resp
		}, "bad_answer", false, syncproto.ErrInvalid},
		{"answer-for-other-device", func(r *syncproto.Report) (int, string, *syncproto.Response) {
			_, _, resp := ackAll(r)
			resp.DeviceID = "gw-2"
			return 200, "", resp
		}, "bad_answer", false, ErrBadAnswer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			putDeductions(t, h.st, "gw-1", 1, 2)
			h.fake.answer = tt.answer
			_, err := h.client.Sync(context.Background())
			var se *Error
			if !errors.As(err, &se) || se.Code != tt.code || se.Retryable() != tt.retry || !errors.Is(err, tt.is) {
				t.Fatalf("Sync = %v (%#v), want code %s retry %v", err, se, tt.code, tt.retry)
			}
			if acked, _ := h.st.Int(store.KeySyncAcked()); acked != 0 || len(h.applied) != 0 {
				t.Fatalf("a failed sync moved acked to %d / applied %d answers", acked, len(h.applied))
			}
		})
	}
}

func TestSyncNetworkError(t *testing.T) {
	h := newHarness(t)
	hs := httptest.NewServer(http.NotFoundHandler())
	hs.Close()
	h.client.urls = []string{hs.URL}
	_, err := h.client.Sync(context.Background())
	if !errors.Is(err, ErrNetwork) || !Retryable(err) {
		t.Fatalf("Sync = %v", err)
	}
	if _, err := New(Options{}); !errors.Is(err, ErrNoServer) || Retryable(err) {
		t.Fatalf("New without URL = %v", err)
	}
}

func refuse(status int, code string) func(*syncproto.Report) (int, string, *syncproto.Response) {
	return func(*syncproto.Report) (int, string, *syncproto.Response) {
		return status, `{"error":{"code":"` + code + `","message":"refused"}}`, nil
	}
}
