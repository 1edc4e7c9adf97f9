package api

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-iot/tollgate/shared/limits"
	"github.com/tollgate-iot/tollgate/shared/syncproto"
)

// millionRecords is a sync request text of a million deduction records —
// far over the size cap — built without the signer, which would refuse it.
func millionRecords(t testing.TB) string {
	t.Helper()
	rec := `{"at":1,"days_after":0,"days_before":1,"license_id":"0a000000-0000-4000-8000-000000000001","paid_until":2,"seq":1},`
	payload := `{"counts":[],"deductions":[` + strings.Repeat(rec, 1_000_000)
	return "tg1.syq." + base64.RawURLEncoding.EncodeToString([]byte(payload))
}

func TestSyncBadInputChangesNothing(t *testing.T) {
	tests := []struct {
		name   string
		status int
		code   string
		// body returns the request body; it may sync first (that part is
		// applied before the snapshot).
		body  func(e *syncEnv) string
		ctype string
	}{
		{"error/oversized", 413, "body_too_large", func(e *syncEnv) string {
			return strings.Repeat("A", MaxSyncBodyBytes+1)
		}, ""},
		{"error/million-records", 413, "body_too_large", func(e *syncEnv) string { return millionRecords(e.t) }, ""},
		{"error/over-record-limit", 400, "invalid_report", func(e *syncEnv) string {
			r := e.report("dev-a")
			for i := range limits.MaxSyncDeductions + 1 {
				r.Deductions = append(r.Deductions, deduction(int64(i+1), e.lic["dev-a"], e.clk.Now(), 10))
			}
			return sign(e.t, e.dev["dev-a"], r)
		}, ""},
		{"error/duplicate-seq", 400, "invalid_report", func(e *syncEnv) string {
			r := e.report("dev-a")
			d := deduction(1, e.lic["dev-a"], e.clk.Now(), 30)
			r.Deductions = []syncproto.Deduction{d, d}
			return sign(e.t, e.dev["dev-a"], r)
		}, ""},
		{"error/counter-went-down", 409, "counter_went_down", func(e *syncEnv) string {
			r := e.report("dev-a")
			r.Counts = hourly("dev-a", e.clk.Now(), 3)
			e.sync(r)
			r = e.report("dev-a")
			r.Deductions = []syncproto.Deduction{deduction(1, e.lic["dev-a"], e.clk.Now(), 30)} // must not be applied
			r.Counts = hourly("dev-a", e.clk.Now(), 3)
			r.Counts[2].Refused--
			if r.Counts[2].Refused < 0 {
				r.Counts[2].Accepted--
				r.Counts[2].Refused = 0
			}
			return sign(e.t, e.dev["dev-a"], r)
		}, ""},
		{"error/signed-by-another-device", 401, "bad_signature", func(e *syncEnv) string {
			r := e.report("dev-a")
			r.Deductions = []syncproto.Deduction{deduction(1, e.lic["dev-a"], e.clk.Now(), 30)}
			return sign(e.t, e.dev["dev-b"], r)
		}, ""},
		{"error/unknown-device", 401, "unknown_device", func(e *syncEnv) string {
			return sign(e.t, deviceSigner(e.t, "ghost"), e.reportOf("ghost"))
		}, ""},
		{"error/stale", 409, "stale_request", func(e *syncEnv) string {
			r := e.report("dev-a")
			r.SentAt = e.clk.Now().Add(-SyncWindow - time.Second).Unix()
			r.Deductions = []syncproto.Deduction{deduction(1, e.lic["dev-a"], e.clk.Now(), 30)}
			return sign(e.t, e.dev["dev-a"], r)
		}, ""},
		{"error/from-the-future", 409, "stale_request", func(e *syncEnv) string {
			r := e.report("dev-a")
			r.SentAt = e.clk.Now().Add(SyncWindow + time.Second).Unix()
			return sign(e.t, e.dev["dev-a"], r)
		}, ""},
		{"error/replayed-nonce", 409, "replay", func(e *syncEnv) string {
			r := e.report("dev-a")
			r.Deductions = []syncproto.Deduction{deduction(1, e.lic["dev-a"], e.clk.Now(), 30)}
			text := sign(e.t, e.dev["dev-a"], r)
			if code, body := e.post(text, "text/plain"); code != 200 {
				e.t.Fatalf("first send: %d %s", code, body)
			}
			return text
		}, ""},
		{"error/other-customers-license", 422, "not_this_device", func(e *syncEnv) string {
			r := e.report("dev-a")
			r.Deductions = []syncproto.Deduction{deduction(1, e.lic["dev-b"], e.clk.Now(), 30)}
			return sign(e.t, e.dev["dev-a"], r)
		}, ""},
		{"error/unbound-license", 422, "not_this_device", func(e *syncEnv) string {
			r := e.report("dev-a")
			r.Deductions = []syncproto.Deduction{deduction(1, e.lic["spare-acme"], e.clk.Now(), 30)}
			return sign(e.t, e.dev["dev-a"], r)
		}, ""},
		{"error/counts-of-another-device", 422, "not_this_device", func(e *syncEnv) string {
			r := e.report("dev-a")
			r.Counts = hourly("dev-b", e.clk.Now(), 1)
			return sign(e.t, e.dev["dev-a"], r)
		}, ""},
		{"error/json-content-type", 415, "unsupported_media_type", func(e *syncEnv) string {
			return sign(e.t, e.dev["dev-a"], e.report("dev-a"))
		}, "application/json"},
		{"error/garbage", 400, "malformed_document", func(e *syncEnv) string { return "hello" }, ""},
		{"error/license-token-not-a-report", 400, "malformed_document", func(e *syncEnv) string {
			var l struct{ Token string }
			e.must(200, "GET", "/v1/licenses/"+e.lic["dev-a"]+"/token", e.key["root"], nil, &l)
			return l.Token
		}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newSyncEnv(t, 30)
			body := tc.body(e)
			before := e.snapshot()
			ctype := tc.ctype
			if ctype == "" {
				ctype = "text/plain"
			}
			code, raw := e.post(body, ctype)
			if code != tc.status || errCode([]byte(raw)) != tc.code {
				t.Fatalf("%d %.300s, want %d %s", code, raw, tc.status, tc.code)
			}
			if !json.Valid([]byte(raw)) {
				t.Fatalf("error answer is not JSON: %s", raw)
			}
			if after := e.snapshot(); after != before {
				t.Fatalf("a refused request changed the ledger:\n%s\nwant\n%s", after, before)
			}
		})
	}
}

// reportOf is a report of any device id, registered or not.
func (e *syncEnv) reportOf(dev string) *syncproto.Report {
	r := e.report("dev-a")
	r.DeviceID = dev
	return r
}

func TestSyncWrongMethodAndNoAPIKeyNeeded(t *testing.T) {
	e := newSyncEnv(t, 30)
	if code, raw := e.call("GET", "/v1/device/sync", "", nil, nil); code != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %d %s", code, raw)
	}
	// The device's signature authenticates: no Authorization header.
	e.sync(e.report("dev-a"))
	// A valid signed answer for a valid request of another kind of body is
	// still refused: a usage receipt is not a sync request.
	r := e.report("dev-a")
	text, err := syncproto.SignReceipt(e.dev["dev-a"], r)
	if err != nil {
		t.Fatal(err)
	}
	if code, raw := e.post(text, "text/plain"); code != 400 || errCode([]byte(raw)) != "malformed_document" {
		t.Fatalf("receipt as sync: %d %s", code, raw)
	}
}
