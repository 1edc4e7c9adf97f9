package api

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tollgate-iot/tollgate/shared/syncproto"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// FuzzSyncBody sends any body through the real sync handler: nothing
// panics, every refusal is a named 4xx, and every 200 is an answer the
// agent can open. An input that verifies runs a synced ledger transaction,
// so minimizing one takes long: run with -fuzzminimizetime=5s.
func FuzzSyncBody(f *testing.F) {
	e := newSyncEnv(f, 100)
	r := e.report("dev-a")
	r.Deductions = []syncproto.Deduction{deduction(1, e.lic["dev-a"], e.clk.Now(), 100)}
	r.Counts = hourly("dev-a", e.clk.Now(), 2)
	valid := sign(f, e.dev["dev-a"], r)
	f.Add(valid)
	f.Add(valid + "\n")
	f.Add(sign(f, e.dev["dev-b"], r))
	f.Add(sign(f, e.dev["dev-a"], e.report("dev-a")))
	gw := e.report("dev-a") // wall clock and a child's own deduction
	gw.SentWall = e.clk.Now().Unix()
	child := deduction(1, e.lic["spare-acme"], e.clk.Now(), 100)
	child.DeviceID = "child-a"
	gw.Deductions = []syncproto.Deduction{deduction(1, e.lic["dev-a"], e.clk.Now(), 100), child}
	f.Add(sign(f, e.dev["dev-a"], gw))
	// Refusals by reason: valid, and past refused (422 refusals_past_refused).
	rb := e.report("dev-a")
	rb.Counts = hourly("dev-a", e.clk.Now(), 1)
	rb.Counts[0].Refused, rb.Counts[0].RefusedBy = 5, map[string]int64{"no_days": 1, "over_budget": 4}
	f.Add(sign(f, e.dev["dev-a"], rb))
	rb.Counts[0].RefusedBy = map[string]int64{"no_days": 3, "over_budget": 4}
	f.Add(sign(f, e.dev["dev-a"], rb))
	f.Add(strings.Replace(valid, ".syq.", ".sys.", 1))
	f.Add(valid[:len(valid)/2])
	f.Add("tg1.syq.e30.0000000000000000.AAAA")
	f.Add("")
	// An API of its own over the same ledger. The ledger claims each
	// accepted request's nonce, so an input the fuzzer repeats is answered
	// 409 replay after its first 200: a named refusal either way.
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	a := New(Options{Ledger: e.lg, Clock: e.clk, Logger: quiet})
	h := a.Handler()
	trust, err := e.ks.Trust()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest("POST", "/v1/device/sync", strings.NewReader(body))
		req.Header.Set("Content-Type", "text/plain")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch {
		case rec.Code == http.StatusOK:
			// Only a request signed by a device key answers 200: open it
			// as the server did, then the answer as the agent would.
			text := strings.TrimSuffix(strings.TrimSuffix(body, "\n"), "\r")
			id, err := syncproto.PeekDevice(token.KindSyncRequest, text)
			if err != nil || e.dev[id] == nil {
				t.Fatalf("200 for a request of no known device: %v", err)
			}
			dt, _ := token.NewTrust(e.dev[id].PublicKey())
			rep, err := syncproto.OpenReport(dt, token.KindSyncRequest, text)
			if err != nil {
				t.Fatalf("200 for a request that does not open: %v", err)
			}
			if _, err := syncproto.OpenResponse(trust, id, rep.Nonce, rec.Body.String()); err != nil {
				t.Fatalf("answer does not open: %v", err)
			}
		case rec.Code >= 500:
			t.Fatalf("body %q: %d %s", body, rec.Code, rec.Body.String())
		case errCode(rec.Body.Bytes()) == "":
			t.Fatalf("body %q: %d without a named code: %s", body, rec.Code, rec.Body.String())
		}
	})
}
