package auth

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/tollgate-iot/tollgate/server/internal/ledger"
)

type fakeAuth struct {
	fn func(ctx context.Context, key string) (ledger.Actor, error)
}

func (f fakeAuth) Authenticate(ctx context.Context, key string) (ledger.Actor, error) {
	return f.fn(ctx, key)
}

func TestMiddleware(t *testing.T) {
	good := ledger.Actor{UserID: "u1", CustomerID: "c1", Role: ledger.RoleViewer}
	a := fakeAuth{fn: func(_ context.Context, key string) (ledger.Actor, error) {
		if key == "tgk_good" {
			return good, nil
		}
		return ledger.Actor{}, ledger.ErrUnauthenticated
	}}
	tests := []struct {
		name   string
		header string
		want   int
	}{
		{"ok", "Bearer tgk_good", 200},
		{"ok/case-insensitive-scheme", "bearer tgk_good", 200},
		{"error/missing", "", 401},
		{"error/unknown-key", "Bearer tgk_bad", 401},
		{"error/basic-scheme", "Basic dGdrX2dvb2Q=", 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := Middleware(a, func(w http.ResponseWriter, r *http.Request, err error) {
				if !errors.Is(err, ledger.ErrUnauthenticated) {
					t.Errorf("fail called with %v", err)
				}
				w.WriteHeader(401)
			})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if got, ok := ActorFrom(r.Context()); !ok || got != good {
					t.Errorf("actor = %+v, %v", got, ok)
				}
			}))
			req := httptest.NewRequest("GET", "/v1/whoami", nil)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.want {
				t.Fatalf("status %d, want %d", rec.Code, tc.want)
			}
		})
	}
}
