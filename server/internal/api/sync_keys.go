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

// trustCache holds parsed keys by their text and also by their fingerprint
// (the SHA-256 of the key, computed here from the parsed key itself): a sync request's key id
// leads to the fingerprints of the devices that hold it, and a fingerprint
// names one key, so the request can be verified without reading the
// device's record once its key was parsed.
type trustCache struct {
	mu   sync.Mutex
	m    map[string]*token.Trust // by key text
	byFP map[string]*token.Trust // by fingerprint
	max  int
}

func newTrustCache(max int) *trustCache {
	return &trustCache{m: map[string]*token.Trust{}, byFP: map[string]*token.Trust{}, max: max}
}

// byFingerprint returns the trust of the key with fingerprint fp, if that
// key was parsed before.
func (c *trustCache) byFingerprint(fp string) (*token.Trust, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.byFP[fp]
	return t, ok
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
	fp := token.Fingerprint(pub)
	c.mu.Lock()
	if len(c.m) >= c.max {
		clear(c.m)
		clear(c.byFP)
	}
	c.m[keyText], c.byFP[fp] = t, t
	c.mu.Unlock()
	return t, nil
}
