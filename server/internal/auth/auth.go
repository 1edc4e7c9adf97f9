// Package auth authenticates admin API requests by API key and carries the
// resulting actor in the request context.
package auth

import (
	"context"
	"net/http"
	"strings"

	"github.com/tollgate-iot/tollgate/server/internal/ledger"
)

// Authenticator resolves an API key (ledger.Ledger does).
type Authenticator interface {
	Authenticate(ctx context.Context, key string) (ledger.Actor, error)
}

type ctxKey struct{}

// WithActor returns ctx carrying a.
func WithActor(ctx context.Context, a ledger.Actor) context.Context {
	return context.WithValue(ctx, ctxKey{}, a)
}

// ActorFrom returns the actor of an authenticated request.
func ActorFrom(ctx context.Context) (ledger.Actor, bool) {
	a, ok := ctx.Value(ctxKey{}).(ledger.Actor)
	return a, ok
}

// KeyFrom extracts the API key of a request: "Authorization: Bearer KEY".
// It never logs or echoes the key.
func KeyFrom(r *http.Request) string {
	h := r.Header.Get("Authorization")
	const p = "Bearer "
	if len(h) > len(p) && strings.EqualFold(h[:len(p)], p) {
		return strings.TrimSpace(h[len(p):])
	}
	return ""
}

// Middleware authenticates every request with a; failures go to fail,
// which writes the error answer.
func Middleware(a Authenticator, fail func(http.ResponseWriter, *http.Request, error)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			key := KeyFrom(r)
			if key == "" {
				fail(w, r, ledger.ErrUnauthenticated)
				return
			}
			actor, err := a.Authenticate(r.Context(), key)
			if err != nil {
				fail(w, r, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(WithActor(r.Context(), actor)))
		})
	}
}
