package api

import (
	"sync"
	"time"
)

// nonceCache remembers the nonces of accepted sync requests until their
// freshness window closes, so a captured request is refused as a replay.
// It is in memory and bounded (MaxSyncNonces): after a restart, or when
// full, a replay can slip through — harmless, because the ledger applies
// each (device, seq) once and keeps counts at their highest, so a replayed
// report changes nothing.
type nonceCache struct {
	mu    sync.Mutex
	seen  map[string]int64 // key → expiry, Unix seconds
	order []nonceEntry     // insertion order, for expiry and eviction
	head  int
	max   int
}

type nonceEntry struct {
	key    string
	expiry int64
}

func newNonceCache(max int) *nonceCache {
	return &nonceCache{seen: map[string]int64{}, max: max}
}

// add records device's nonce until expiry and reports whether it was new.
func (c *nonceCache) add(device, nonce string, expiry, now time.Time) bool {
	k := device + "/" + nonce
	c.mu.Lock()
	defer c.mu.Unlock()
	c.purge(now.Unix())
	if exp, ok := c.seen[k]; ok && exp > now.Unix() {
		return false
	}
	c.seen[k] = expiry.Unix()
	c.order = append(c.order, nonceEntry{k, expiry.Unix()})
	return true
}

// purge drops expired entries from the front, and the oldest beyond max.
// Entries are roughly in expiry order (sent_at is within the window of
// now); one that expires later than its successors waits for them.
func (c *nonceCache) purge(now int64) {
	for c.head < len(c.order) {
		e := c.order[c.head]
		if e.expiry > now && len(c.order)-c.head < c.max {
			break
		}
		if c.seen[e.key] == e.expiry {
			delete(c.seen, e.key)
		}
		c.order[c.head] = nonceEntry{}
		c.head++
	}
	if c.head > 1024 && c.head*2 > len(c.order) {
		c.order = append(c.order[:0:0], c.order[c.head:]...)
		c.head = 0
	}
}
