package console

import (
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/tollgate-iot/tollgate/shared/clock"
)

// Limits of the sign-in rate per client address (the per-account lockout is
// the ledger's: ledger.MaxSignInFailures).
const (
	// SignInsPerAddress sign-in and set-password posts are taken from one
	// address per SignInWindow; more are refused until the window ends.
	SignInsPerAddress = 30
	SignInWindow      = time.Minute
	// MaxTrackedAddresses bounds the addresses counted in one window; when
	// it is full, posts from further addresses are refused until the window
	// ends (the table never grows past it).
	MaxTrackedAddresses = 100_000
)

// ErrSignInRateLimited reports too many sign-in posts from one address.
var ErrSignInRateLimited = errors.New("too many sign-in attempts from this address: wait a minute and try again")

// addrLimiter counts posts per address in fixed windows of SignInWindow.
type addrLimiter struct {
	mu    sync.Mutex
	clock clock.Clock
	start time.Time
	n     map[string]int
}

func newAddrLimiter(c clock.Clock) *addrLimiter { return &addrLimiter{clock: c, n: map[string]int{}} }

// allow counts one post from r's address and says whether it may go on.
func (l *addrLimiter) allow(r *http.Request) bool {
	addr, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		addr = r.RemoteAddr
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if now := l.clock.Now(); !now.Before(l.start.Add(SignInWindow)) {
		l.start, l.n = now, map[string]int{}
	}
	n, seen := l.n[addr]
	if !seen && len(l.n) >= MaxTrackedAddresses {
		return false
	}
	if n >= SignInsPerAddress {
		return false
	}
	l.n[addr] = n + 1
	return true
}
