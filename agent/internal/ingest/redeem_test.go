package ingest

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// redeemControl is a Control and Redeemer whose Redeem is a func field.
type redeemControl struct {
	redeem func(code string) (any, error)
}

func (redeemControl) Status() any                                          { return map[string]any{} }
func (redeemControl) Activate([]string) (any, error)                       { return nil, nil }
func (redeemControl) Sync(context.Context) (any, error)                    { return nil, nil }
func (redeemControl) ErrorCode(err error) string                           { return strings.SplitN(err.Error(), ":", 2)[0] }
func (c redeemControl) Redeem(_ context.Context, code string) (any, error) { return c.redeem(code) }

func TestRedeemRoute(t *testing.T) {
	var got string
	ctl := redeemControl{redeem: func(code string) (any, error) {
		got = code
		if code == "TG-0000-0000" {
			return nil, errors.New("unknown_code: no such serial")
		}
		return []string{"stored"}, nil
	}}
	h := NewHandler(nil, ctl, nil, nil)
	for _, tc := range []struct {
		name, body string
		status     int
		want       string
	}{
		{"ok", `{"code":"TG-ABCD-1234"}`, 200, `{"imported":["stored"]}`},
		{"error/refused", `{"code":"TG-0000-0000"}`, 502, `"code":"unknown_code"`},
		{"error/unknown_field", `{"code":"TG-ABCD-1234","server":"x"}`, 400, `"code":"invalid_request"`},
		{"error/bad_code", `{"code":"a/b"}`, 400, `"code":"invalid_request"`},
		{"error/empty_code", `{"code":""}`, 400, `"code":"invalid_request"`},
		{"error/too_large", `{"code":"` + strings.Repeat("A", 200) + `"}`, 413, `"code":"too_large"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("POST", "/v1/redeem", strings.NewReader(tc.body)))
			if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.want) {
				t.Fatalf("%d %s, want %d with %s", rec.Code, rec.Body.String(), tc.status, tc.want)
			}
		})
	}
	if got != "TG-0000-0000" {
		t.Fatalf("Redeem saw %q", got)
	}
	// A Control that cannot redeem has no such route.
	rec := httptest.NewRecorder()
	NewHandler(nil, plainControl{}, nil, nil).ServeHTTP(rec, httptest.NewRequest("POST", "/v1/redeem", strings.NewReader(`{"code":"X"}`)))
	if rec.Code != http.StatusNotFound {
		t.Fatalf("without a Redeemer: %d", rec.Code)
	}
}

type plainControl struct{}

func (plainControl) Status() any                       { return nil }
func (plainControl) Activate([]string) (any, error)    { return nil, nil }
func (plainControl) Sync(context.Context) (any, error) { return nil, nil }
func (plainControl) ErrorCode(error) string            { return "" }
