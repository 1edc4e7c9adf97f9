package syncer

import (
	"errors"
	"net/http"

	"github.com/tollgate-iot/tollgate/agent/internal/config"
)

// Failover between the addresses of one license server (docs/agent.md
// "Several servers and brokers"). The replicas of a server share one
// ledger, so any of them may take any sync. A sync goes to the address
// that answered last; when it cannot be reached, or answers 5xx (a replica
// that is failing or shutting down), the same report is built and signed
// anew — a new nonce, since the ledger refuses a request it has seen on
// any replica — and sent to the next address, until each was tried once.
// A refusal (4xx: a bad signature, a stale clock, a counter that went
// down) is the server's verdict, the same on every replica: it is not a
// reason to fail over. Between whole rounds the sync schedule's jittered
// backoff applies (schedule.go), so that the fleet of a replica that died
// does not arrive at the next one at the same instant.

// SplitURLs splits a comma-separated list of server addresses, dropping
// empty items.
func SplitURLs(s string) []string { return config.SplitList(s) }

// failover tells whether a failed sync should be sent to the next address.
func failover(err error) bool {
	var se *Error
	if !errors.As(err, &se) {
		return false
	}
	return errors.Is(se, ErrNetwork) || errors.Is(se, ErrNoServer) || se.Status >= http.StatusInternalServerError
}

// Server returns the address the next sync goes to first.
func (c *Client) Server() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.urls[c.cur]
}

// Failovers counts syncs sent to another address because the one tried
// was unreachable or failing.
func (c *Client) Failovers() int64 { return c.failovers.Load() }
