package keys

import (
	"sync"
	"time"

	"github.com/tollgate-iot/tollgate/shared/clock"
	"github.com/tollgate-iot/tollgate/shared/token"
)

// Cache keeps the active signer in memory for ttl, so that signing a token
// does not read and parse the key files each time, while a `keys rotate`
// run against a serving data directory still takes effect within ttl.
type Cache struct {
	st    *Store
	clock clock.Clock
	ttl   time.Duration

	mu     sync.Mutex
	signer *token.Signer
	loaded time.Time

	trust       *token.Trust
	trustLoaded time.Time
}

// NewCache returns a cache over st; ttl <= 0 means one minute.
func NewCache(st *Store, clk clock.Clock, ttl time.Duration) *Cache {
	if ttl <= 0 {
		ttl = time.Minute
	}
	return &Cache{st: st, clock: clock.OrReal(clk), ttl: ttl}
}

// Active returns the active signer, reloading it when older than ttl.
func (c *Cache) Active() (*token.Signer, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.clock.Now()
	if c.signer != nil && now.Sub(c.loaded) < c.ttl && !now.Before(c.loaded) {
		return c.signer, nil
	}
	s, err := c.st.Active()
	if err != nil {
		return nil, err
	}
	c.signer, c.loaded = s, now
	return s, nil
}

// Trust returns the public keys of every key in the store (what verifies
// the server's own tokens), reloading them when older than ttl so that a
// rotated key is trusted within ttl.
func (c *Cache) Trust() (*token.Trust, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.clock.Now()
	if c.trust != nil && now.Sub(c.trustLoaded) < c.ttl && !now.Before(c.trustLoaded) {
		return c.trust, nil
	}
	t, err := c.st.Trust()
	if err != nil {
		return nil, err
	}
	c.trust, c.trustLoaded = t, now
	return t, nil
}
