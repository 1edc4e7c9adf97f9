package api

import (
	"sync"

	"github.com/tollgate-iot/tollgate/shared/token"
)

// deviceTrusts memoizes parsed device keys by their text form. Parsing a
// key checks that it is a sound curve point, which costs about as much as
// verifying a report; a device syncs with the same key again and again.
// The mapping is a pure function of the text, so the cache is shared by
// every API of the process and never goes stale: a device whose key
// changes is looked up under its new text.
var deviceTrusts = newTrustCache(MaxDeviceKeysCached)

type trustCache struct {
	mu  sync.Mutex
	m   map[string]*token.Trust
	max int
}

func newTrustCache(max int) *trustCache {
	return &trustCache{m: map[string]*token.Trust{}, max: max}
}

// get returns the trust of one device key, parsing it on a miss. When the
// cache is full it starts again empty: simpler than an LRU, and a fleet
// larger than the cache only pays the parse it paid before.
func (c *trustCache) get(keyText string) (*token.Trust, error) {
	c.mu.Lock()
	t, ok := c.m[keyText]
	c.mu.Unlock()
	if ok {
		return t, nil
	}
	pub, err := token.ParsePublicKey(keyText)
	if err != nil {
		return nil, err
	}
	if t, err = token.NewTrust(pub); err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.m) >= c.max {
		clear(c.m)
	}
	c.m[keyText] = t
	c.mu.Unlock()
	return t, nil
}
